/* msgframe.c: find where one MessagePack object ends, without decoding.
 *
 * The reader frames each message before msgpack-c sees it, for two
 * reasons: a byte stream has no message boundaries of its own, and
 * msgpack-c allocates an array's or map's items as soon as it reads the
 * count, so a six-byte input declaring 2^32 items would ask for 100 GB.
 * Here every declared count is checked against the bytes it would need
 * (each item takes at least one byte) before any allocation happens.
 * When the object is incomplete, the bytes it needs at least are known
 * (a bin's header gives its length): readers use that to size their
 * reads and buffers.
 * Format reference: the MessagePack specification, "Formats" section.
 */
#include "common/codec.h"
#include "common/error.h"

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int qt_mp_frame(const uint8_t *p, size_t n, size_t max, size_t *len)
{
	size_t pos = 0;
	uint64_t pending = 1; /* objects still to be read */

	while (pending) {
		uint64_t body = 0, items = 0;
		int hdr;
		uint8_t c;

		if (pos >= n) {
			*len = pos + pending; /* each item needs a byte */
			return 0;
		}
		c = p[pos];
		pending--;
		if (c <= 0x7f || c >= 0xe0 || (c >= 0xc0 && c <= 0xc3)) {
			if (c == 0xc1)
				return qt_error(QT_EFORMAT,
						"not MessagePack (byte 0xc1)");
			pos++;
			continue;
		}
		if (c >= 0xa0 && c <= 0xbf) { /* fixstr */
			hdr = 1;
			body = c & 0x1f;
		} else if (c >= 0x90 && c <= 0x9f) { /* fixarray */
			hdr = 1;
			items = c & 0x0f;
		} else if (c >= 0x80 && c <= 0x8f) { /* fixmap */
			hdr = 1;
			items = 2u * (c & 0x0f);
		} else {
			int lenbytes = 0, fixed = -1, kind = 0; /* 1 arr 2 map 3 ext */
			switch (c) {
			case 0xc4: case 0xd9: lenbytes = 1; break;
			case 0xc5: case 0xda: lenbytes = 2; break;
			case 0xc6: case 0xdb: lenbytes = 4; break;
			case 0xc7: lenbytes = 1; kind = 3; break;
			case 0xc8: lenbytes = 2; kind = 3; break;
			case 0xc9: lenbytes = 4; kind = 3; break;
			case 0xca: fixed = 4; break;
			case 0xcb: fixed = 8; break;
			case 0xcc: case 0xd0: fixed = 1; break;
			case 0xcd: case 0xd1: fixed = 2; break;
			case 0xce: case 0xd2: fixed = 4; break;
			case 0xcf: case 0xd3: fixed = 8; break;
			case 0xd4: fixed = 2; break;  /* fixext 1 */
			case 0xd5: fixed = 3; break;
			case 0xd6: fixed = 5; break;
			case 0xd7: fixed = 9; break;
			case 0xd8: fixed = 17; break;
			case 0xdc: lenbytes = 2; kind = 1; break;
			case 0xdd: lenbytes = 4; kind = 1; break;
			case 0xde: lenbytes = 2; kind = 2; break;
			case 0xdf: lenbytes = 4; kind = 2; break;
			default:
				return qt_error(QT_EFORMAT,
						"not MessagePack (byte 0x%02x)", c);
			}
			if (fixed >= 0) {
				hdr = 1;
				body = (uint64_t)fixed;
			} else {
				if (n - pos < 1 + (size_t)lenbytes) {
					*len = pos + 1 + (size_t)lenbytes + pending;
					return 0;
				}
				uint64_t v = be(p + pos + 1, lenbytes);
				hdr = 1 + lenbytes;
				if (kind == 1)
					items = v;
				else if (kind == 2)
					items = 2 * v;
				else
					body = v + (kind == 3); /* ext: type byte */
			}
		}
		/* Each pending item needs at least one byte of the message. */
		if (body > max || items > max || pending + items > max ||
		    pos + hdr + body > max)
			return qt_error(QT_EFORMAT,
					"message declares more data than the "
					"%zu-byte limit (corrupt stream, or raise "
					"QUANTA_MAX_MESSAGE)", max);
		pending += items;
		pos += (size_t)hdr;
		if (body) {
			if (n - pos < body) {
				*len = pos + (size_t)body + pending;
				return 0;
			}
			pos += (size_t)body;
		}
	}
	*len = pos;
	return 1;
}
