/* endpoint.c: file-descriptor and ZeroMQ channels (see endpoint.h).
 *
 * Byte streams (pipes, files) have no message boundaries, so input is
 * framed with qt_mp_frame over a growing buffer; a ZeroMQ message is one
 * stream message.  Files are written under a temporary name and renamed
 * only when the stream is complete, so no half-written file ever sits
 * under the requested name.
 */
#include "common/endpoint.h"
#include "common/codec.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zmq.h>

enum { CHAN_FD, CHAN_ZMQ };

/* Input reads ask for at least this many bytes (see recv_fd). */
#define READ_AHEAD ((size_t)64 << 10)

struct qt_chan {
	int kind, out;
	int fd, owns_fd;
	uint8_t *buf;
	size_t cap, start, end;
	size_t need; /* the message at start needs at least this many bytes */
	int eof;
	void *zctx, *zsock;
	zmq_msg_t zmsg;
	int have_zmsg;
	char *path, *tmp; /* file output: final and temporary names */
	uint64_t bytes;
	int err;
};

int qt_endpoint_is_socket(const char *e)
{
	if (*e == '@' || *e == '>')
		e++;
	return !strncmp(e, "tcp://", 6) || !strncmp(e, "ipc://", 6) ||
	       !strncmp(e, "inproc://", 9);
}

/* Bigger pipe buffers mean fewer context switches between stages. */
static void grow_pipe(int fd)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

static int open_socket(qt_chan *c, const char *e, int out)
{
	int bind = out ? 0 : 1, rc;
	if (*e == '@' || *e == '>')
		bind = *e++ == '@';
	c->kind = CHAN_ZMQ;
	c->zctx = zmq_ctx_new();
	if (!c->zctx)
		return qt_error(QT_EIO, "zmq_ctx_new: %s", zmq_strerror(errno));
	c->zsock = zmq_socket(c->zctx, out ? ZMQ_PUSH : ZMQ_PULL);
	if (!c->zsock)
		return qt_error(QT_EIO, "zmq_socket: %s", zmq_strerror(errno));
	if (!out) {
		int64_t max = (int64_t)qt_max_message();
		(void)zmq_setsockopt(c->zsock, ZMQ_MAXMSGSIZE, &max, sizeof max);
	}
	rc = bind ? zmq_bind(c->zsock, e) : zmq_connect(c->zsock, e);
	if (rc != 0)
		return qt_error(QT_EUSAGE, "cannot %s '%s': %s",
				bind ? "bind" : "connect to", e,
				zmq_strerror(errno));
	return 0;
}

static qt_chan *chan_new(int out)
{
	qt_chan *c = calloc(1, sizeof *c);
	if (c) {
		c->fd = -1;
		c->out = out;
	}
	return c;
}

int qt_chan_open_in(qt_chan **cp, const char *e)
{
	qt_chan *c = chan_new(0);
	int rc = 0;
	if (!c)
		return qt_error(QT_ENOMEM, "out of memory");
	if (qt_endpoint_is_socket(e)) {
		rc = open_socket(c, e, 0);
	} else if (!strcmp(e, "-")) {
		c->fd = 0;
		grow_pipe(0);
	} else {
		c->fd = open(e, O_RDONLY | O_CLOEXEC);
		c->owns_fd = 1;
		if (c->fd < 0)
			rc = qt_error(QT_EUSAGE, "cannot open '%s': %s", e,
				      strerror(errno));
	}
	if (!rc && c->kind == CHAN_FD) {
		c->cap = 4 * READ_AHEAD;
		c->buf = malloc(c->cap);
		if (!c->buf)
			rc = qt_error(QT_ENOMEM, "out of memory");
	}
	if (rc) {
		qt_chan_close(c, 0);
		return rc;
	}
	*cp = c;
	return 0;
}

int qt_chan_open_out(qt_chan **cp, const char *e)
{
	qt_chan *c = chan_new(1);
	struct stat st;
	int rc = 0;
	if (!c)
		return qt_error(QT_ENOMEM, "out of memory");
	if (qt_endpoint_is_socket(e)) {
		rc = open_socket(c, e, 1);
	} else if (!strcmp(e, "-")) {
		if (isatty(1))
			rc = qt_error(QT_EUSAGE, "refusing to write a binary "
				      "stream to a terminal; pipe it into "
				      "another stage or use -o FILE");
		c->fd = 1;
		grow_pipe(1);
	} else if (stat(e, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* /dev/null, a FIFO, /dev/fd/N of a process substitution:
		 * write in place; renaming a temporary file over them would
		 * replace the device (as root) or fail. */
		c->fd = open(e, O_WRONLY | O_CLOEXEC);
		c->owns_fd = 1;
		if (c->fd < 0)
			rc = qt_error(QT_EUSAGE, "cannot write '%s': %s", e,
				      strerror(errno));
	} else {
		size_t n = strlen(e);
		const char *slash = strrchr(e, '/');
		int dirlen = slash ? (int)(slash - e + 1) : 0;
		c->path = strdup(e);
		c->tmp = malloc(n + 32);
		if (!c->path || !c->tmp) {
			rc = qt_error(QT_ENOMEM, "out of memory");
		} else {
			snprintf(c->tmp, n + 32, "%.*s.%s.tmpXXXXXX", dirlen, e,
				 e + dirlen);
			c->fd = mkostemp(c->tmp, O_CLOEXEC);
			c->owns_fd = 1;
			if (c->fd < 0) {
				free(c->tmp);
				c->tmp = NULL;
				rc = qt_error(QT_EUSAGE, "cannot write '%s': %s",
					      e, strerror(errno));
			} else {
				/* mkstemp makes 0600; give the file the mode
				 * an ordinary create would. */
				mode_t um = umask(0);
				umask(um);
				(void)fchmod(c->fd, 0666 & ~um);
			}
		}
	}
	if (rc) {
		qt_chan_close(c, 0);
		return rc;
	}
	*cp = c;
	return 0;
}

int qt_chan_is_socket(const qt_chan *c)
{
	return c->kind == CHAN_ZMQ;
}

uint64_t qt_chan_bytes(const qt_chan *c)
{
	return c->bytes;
}

/* Grow the input buffer to hold at least `need` bytes. */
static int grow_buf(qt_chan *c, size_t need, size_t max)
{
	size_t ncap = c->cap + c->cap / 2;
	uint8_t *nb;
	if (need > max + 16)
		return qt_error(QT_EFORMAT, "message larger than %zu bytes", max);
	if (ncap < need + READ_AHEAD)
		ncap = need + READ_AHEAD;
	nb = realloc(c->buf, ncap);
	if (!nb)
		return qt_error(QT_ENOMEM, "out of memory reading a %zu-byte "
				"message", need);
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

/* Frame messages out of the byte stream.  Each read asks for what the
 * message being framed still lacks (qt_mp_frame's lower bound), or
 * READ_AHEAD bytes when that is less: a large message then ends where a
 * read ends, so it is never moved within the buffer, and the buffer
 * grows to the largest message, not beyond. */
static int recv_fd(qt_chan *c, const uint8_t **p, size_t *len)
{
	size_t max = qt_max_message();
	for (;;) {
		size_t have = c->end - c->start, want;
		int rc;
		/* Frame only when the bytes can hold the message (and at the
		 * end, for a format error in preference to "truncated"). */
		if (have && (have >= c->need || c->eof)) {
			rc = qt_mp_frame(c->buf + c->start, have, max, &c->need);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				*p = c->buf + c->start;
				*len = c->need;
				c->start += c->need;
				c->need = 0;
				return 1;
			}
		}
		if (c->eof) {
			if (!have)
				return 0;
			return qt_error(QT_EFORMAT, "truncated stream: it ends "
					"inside a message (%zu bytes of it "
					"arrived)", have);
		}
		if (!have)
			c->start = c->end = 0;
		want = c->need > have ? c->need - have : 0;
		if (want < READ_AHEAD)
			want = READ_AHEAD;
		/* Make room: move a partial message to the front only when
		 * the read would not fit after it.  Once the buffer has grown
		 * to the largest message, what moves is at most the
		 * READ_AHEAD tail of an earlier read. */
		if (c->start > 0 && c->end + want > c->cap) {
			memmove(c->buf, c->buf + c->start, have);
			c->start = 0;
			c->end = have;
		}
		if (c->need > c->cap - c->start) {
			if ((rc = grow_buf(c, c->need, max)) < 0)
				return rc;
		}
		if (want > c->cap - c->end)
			want = c->cap - c->end;
		ssize_t got = read(c->fd, c->buf + c->end, want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return qt_error(QT_EIO, "read error: %s", strerror(errno));
		}
		if (got == 0)
			c->eof = 1;
		c->end += (size_t)got;
		c->bytes += (uint64_t)got;
	}
}

static int recv_zmq(qt_chan *c, const uint8_t **p, size_t *len)
{
	if (c->have_zmsg)
		zmq_msg_close(&c->zmsg);
	c->have_zmsg = 0;
	zmq_msg_init(&c->zmsg);
	for (;;) {
		int n = zmq_msg_recv(&c->zmsg, c->zsock, 0);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		zmq_msg_close(&c->zmsg);
		return qt_error(QT_EIO, "receive failed: %s", zmq_strerror(errno));
	}
	c->have_zmsg = 1;
	*p = zmq_msg_data(&c->zmsg);
	*len = zmq_msg_size(&c->zmsg);
	c->bytes += *len;
	return 1;
}

int qt_chan_recv(qt_chan *c, const uint8_t **p, size_t *len)
{
	return c->kind == CHAN_ZMQ ? recv_zmq(c, p, len) : recv_fd(c, p, len);
}

int qt_chan_send(qt_chan *c, const void *p, size_t len)
{
	struct iovec v = {.iov_base = (void *)p, .iov_len = len};
	return qt_chan_sendv(c, &v, 1);
}

/* ZeroMQ: one message (one frame) made of the pieces. */
static int sendv_zmq(qt_chan *c, const struct iovec *v, int n)
{
	size_t len = 0;
	zmq_msg_t m;
	for (int i = 0; i < n; i++)
		len += v[i].iov_len;
	if (zmq_msg_init_size(&m, len) != 0)
		return c->err = qt_error(QT_ENOMEM, "out of memory for a "
					 "%zu-byte message", len);
	char *d = zmq_msg_data(&m);
	for (int i = 0; i < n; i++) {
		if (v[i].iov_len)
			memcpy(d, v[i].iov_base, v[i].iov_len);
		d += v[i].iov_len;
	}
	while (zmq_msg_send(&m, c->zsock, 0) < 0) {
		if (errno == EINTR)
			continue;
		zmq_msg_close(&m);
		return c->err = qt_error(QT_EIO, "send failed: %s",
					 zmq_strerror(errno));
	}
	c->bytes += len;
	return 0;
}

int qt_chan_sendv(qt_chan *c, const struct iovec *iov, int n)
{
	struct iovec v[QT_SENDV_MAX];
	if (c->err)
		return c->err;
	if (n < 0 || n > QT_SENDV_MAX)
		return qt_error(QT_EINTERNAL, "qt_chan_sendv: %d pieces", n);
	if (c->kind == CHAN_ZMQ)
		return sendv_zmq(c, iov, n);
	/* writev may write part of the pieces: go on from where it stopped. */
	memcpy(v, iov, (size_t)n * sizeof *v);
	for (int i = 0; i < n;) {
		ssize_t w;
		if (!v[i].iov_len) {
			i++;
			continue;
		}
		w = writev(c->fd, v + i, n - i);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return c->err = qt_error(QT_EIO, "write error: %s",
						 strerror(errno));
		}
		c->bytes += (uint64_t)w;
		for (size_t left = (size_t)w; left;) {
			size_t k = left < v[i].iov_len ? left : v[i].iov_len;
			v[i].iov_base = (char *)v[i].iov_base + k;
			v[i].iov_len -= k;
			left -= k;
			if (!v[i].iov_len)
				i++;
		}
	}
	return 0;
}

int qt_chan_close(qt_chan *c, int commit)
{
	int rc;
	if (!c)
		return 0;
	rc = c->err;
	if (c->have_zmsg)
		zmq_msg_close(&c->zmsg);
	if (c->zsock) {
		/* Output: wait for queued messages to leave (the default
		 * infinite linger); an abandoned output gives its abort
		 * message five seconds; input: drop what is queued. */
		int linger = !c->out ? 0 : commit ? -1 : 5000;
		zmq_setsockopt(c->zsock, ZMQ_LINGER, &linger, sizeof linger);
		zmq_close(c->zsock);
	}
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	if (c->owns_fd && c->fd >= 0) {
		if (c->tmp && commit && !rc && fsync(c->fd) != 0 &&
		    errno != EINVAL)
			rc = qt_error(QT_EIO, "cannot write '%s': %s", c->path,
				      strerror(errno));
		if (close(c->fd) != 0 && c->tmp && !rc)
			rc = qt_error(QT_EIO, "cannot write '%s': %s", c->path,
				      strerror(errno));
	}
	if (c->tmp) {
		if (commit && !rc) {
			if (rename(c->tmp, c->path) != 0)
				rc = qt_error(QT_EIO, "cannot rename to '%s': %s",
					      c->path, strerror(errno));
		}
		if (!commit || rc)
			unlink(c->tmp);
	}
	free(c->buf);
	free(c->path);
	free(c->tmp);
	free(c);
	return rc;
}
