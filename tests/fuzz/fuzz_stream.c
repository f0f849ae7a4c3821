/* fuzz_stream.c: fuzz target for the stream decoder.
 *
 * The input is treated as a whole stream: messages are framed one after
 * another with qt_mp_frame, the first is decoded as the header and the
 * rest as batches against it, as qt_reader does.  Any input must end in a
 * clean error or a valid decode: never a crash, a leak, a hang or an
 * allocation larger than the input justifies.
 *
 *   make fuzz FUZZ_SECONDS=600     (libFuzzer + ASan + UBSan, clang)
 */
#include "common/codec.h"
#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	qt_header *h = NULL;
	size_t pos = 0;
	/* A small message limit keeps the fuzzer's allocations bounded. */
	const size_t max = 1 << 20;

	while (pos < size) {
		size_t len;
		qt_batch *b = NULL;
		qt_header *h2 = NULL;
		int rc = qt_mp_frame(data + pos, size - pos, max, &len);
		if (rc <= 0)
			break;
		rc = qt_decode_message(data + pos, len, h, h ? NULL : &h2,
				       h ? &b : NULL);
		pos += len;
		if (rc == 1)
			h = h2;
		else if (rc == 2)
			qt_batch_free(b);
		if (rc < 0 || rc == 3 || !h)
			break;
	}
	qt_header_free(h);
	return 0;
}
