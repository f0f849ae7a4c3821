/* stream.c: stream readers and writers on top of the codec and the
 * endpoints (see stream.h and docs/FORMAT.md). */
#include "common/stream.h"
#include "common/codec.h"
#include "common/endpoint.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

struct qt_reader {
	qt_chan *ch;
	qt_header *h;
	int ended;
	uint64_t batches, samples;
};

struct qt_writer {
	qt_chan *ch;
	qt_header *h;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint64_t batches, samples;
	int err;
};

int qt_reader_open(qt_reader **rp, const char *endpoint)
{
	qt_reader *r = calloc(1, sizeof *r);
	const uint8_t *p;
	size_t len;
	int rc;
	if (!r)
		return qt_error(QT_ENOMEM, "out of memory");
	if ((rc = qt_chan_open_in(&r->ch, endpoint)) < 0)
		goto fail;
	rc = qt_chan_recv(r->ch, &p, &len);
	if (rc == 0) {
		rc = qt_error(QT_EFORMAT, "empty input: no stream header");
		goto fail;
	}
	if (rc < 0)
		goto fail;
	rc = qt_decode_message(p, len, NULL, &r->h, NULL);
	if (rc >= 0 && rc != 1)
		rc = qt_error(QT_EFORMAT, "stream does not start with a quanta "
			      "header");
	if (rc < 0) {
		if (strcmp(endpoint, "-"))
			qt_error_prefix(rc, "%s: ", endpoint);
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	qt_reader_close(r);
	return rc;
}

const qt_header *qt_reader_header(const qt_reader *r)
{
	return r->h;
}

uint64_t qt_reader_bytes(const qt_reader *r)
{
	return qt_chan_bytes(r->ch);
}

int qt_reader_next(qt_reader *r, qt_batch **b)
{
	const uint8_t *p;
	size_t len;
	int rc;
	if (r->ended)
		return 0;
	rc = qt_chan_recv(r->ch, &p, &len);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (r->h->end_marker || qt_chan_is_socket(r->ch))
			return qt_error(QT_EFORMAT, "truncated stream: it ended "
					"after %llu batches without its end "
					"marker (did the stage before fail?)",
					(unsigned long long)r->batches);
		r->ended = 1;
		return 0;
	}
	rc = qt_decode_message(p, len, r->h, NULL, b);
	if (rc < 0)
		return qt_error_prefix(rc, "batch %llu: ",
				       (unsigned long long)r->batches + 1);
	if (rc == 2) {
		r->batches++;
		r->samples += (uint64_t)(*b)->n;
		return 1;
	}
	r->ended = 1;
	if (!qt_chan_is_socket(r->ch)) {
		rc = qt_chan_recv(r->ch, &p, &len);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return qt_error(QT_EFORMAT, "data after the end of the "
					"stream");
	}
	return 0;
}

void qt_reader_close(qt_reader *r)
{
	if (!r)
		return;
	qt_chan_close(r->ch, 0);
	qt_header_free(r->h);
	free(r);
}

static int flush_message(qt_writer *w)
{
	int rc = qt_chan_send(w->ch, w->sb.data, w->sb.size);
	msgpack_sbuffer_clear(&w->sb);
	if (rc < 0 && !w->err)
		w->err = rc;
	return rc;
}

int qt_writer_open(qt_writer **wp, const char *endpoint, const qt_header *h)
{
	qt_writer *w;
	int rc = qt_header_validate(h);
	if (rc < 0)
		return rc;
	w = calloc(1, sizeof *w);
	if (!w)
		return qt_error(QT_ENOMEM, "out of memory");
	msgpack_sbuffer_init(&w->sb);
	msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
	if (!(w->h = qt_header_clone(h))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto fail;
	}
	w->h->end_marker = 1;
	if ((rc = qt_chan_open_out(&w->ch, endpoint)) < 0)
		goto fail;
	qt_pack_header(&w->pk, w->h);
	if ((rc = flush_message(w)) < 0)
		goto fail;
	*wp = w;
	return 0;
fail:
	qt_writer_abort(w);
	return rc;
}

const qt_header *qt_writer_header(const qt_writer *w)
{
	return w->h;
}

int qt_writer_write(qt_writer *w, const qt_batch *b)
{
	int rc;
	if (w->err)
		return w->err;
	if ((rc = qt_batch_validate(w->h, b)) < 0)
		return qt_error_prefix(rc, "writing batch %llu: ",
				       (unsigned long long)w->batches + 1);
	if ((rc = qt_pack_batch(&w->pk, w->h, b)) < 0) {
		msgpack_sbuffer_clear(&w->sb);
		return rc;
	}
	if ((rc = flush_message(w)) < 0)
		return rc;
	w->batches++;
	w->samples += (uint64_t)b->n;
	return 0;
}

int qt_writer_close(qt_writer *w)
{
	int rc;
	if (!w)
		return 0;
	if (!w->err) {
		qt_pack_end(&w->pk, w->batches, w->samples);
		flush_message(w);
	}
	rc = qt_chan_close(w->ch, !w->err);
	if (w->err)
		rc = w->err;
	msgpack_sbuffer_destroy(&w->sb);
	qt_header_free(w->h);
	free(w);
	return rc;
}

void qt_writer_abort(qt_writer *w)
{
	if (!w)
		return;
	/* A pipe reader sees EOF without the end map; a socket reader
	 * would wait for ever, so it gets an abort map with the reason. */
	if (w->ch && qt_chan_is_socket(w->ch)) {
		msgpack_sbuffer_clear(&w->sb);
		qt_pack_abort(&w->pk, qt_error_message(QT_EIO));
		(void)qt_chan_send(w->ch, w->sb.data, w->sb.size);
	}
	qt_chan_close(w->ch, 0);
	msgpack_sbuffer_destroy(&w->sb);
	qt_header_free(w->h);
	free(w);
}
