/* endpoint.c: file-descriptor and ZeroMQ channels (see endpoint.h).
 *
 * Byte streams (pipes, files) have no message boundaries, so input is
 * framed with qt_mp_frame over a growing buffer; a ZeroMQ message is one
 * stream message.  Files are written under a temporary name and renamed
 * only when the stream is complete, so no half-written file ever sits
 * under the requested name.
 *
 * Two things keep pipes from costing more than the data's own copy:
 *  - Input: the body of a large tensor "data" bin is read straight into an
 *    aligned buffer that the decoded tensor takes over (qt_detached), not
 *    into the message buffer and then copied.
 *  - Output to a pipe: large messages are copied into an arena backed by
 *    one transparent huge page and vmsplice(2)d: the pipe then refers to
 *    the arena's pages instead of copying into pages of its own, which
 *    the kernel allocates, charges and frees one 4 KiB page at a time
 *    under the pipe's lock.  See send_spliced for why this is safe.
 * Pipes are enlarged to /proc/sys/fs/pipe-max-size (F_SETPIPE_SZ).
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zmq.h>

enum { CHAN_FD, CHAN_ZMQ };

/* Input reads ask for at least this many bytes (see recv_fd); after a
 * message whose data came detached, only DETACH_AHEAD: the next message's
 * head, without much of its data, which would then need copying. */
#define READ_AHEAD ((size_t)64 << 10)
#define DETACH_AHEAD ((size_t)4 << 10)
/* Bins of at least this many bytes are read detached. */
#define DETACH_MIN ((size_t)64 << 10)
#define DETACH_MAX (2 * QT_MAX_FIELDS)
/* Output: messages of at least SPLICE_MIN bytes are spliced into a pipe
 * through an arena of ARENA bytes, one transparent huge page. */
#define SPLICE_MIN ((size_t)64 << 10)
#define ARENA ((size_t)2 << 20)
/* Pipes are not made larger than this, whatever pipe-max-size allows. */
#define PIPE_MAX ((size_t)16 << 20)

struct qt_chan {
	int kind, out;
	int fd, owns_fd;
	uint8_t *buf;
	size_t cap, start, end;
	size_t need; /* the message at start needs at least this many bytes */
	size_t ahead; /* the least a read asks for */
	int eof;
	int detach; /* this message's data may be detached */
	qt_detached det[DETACH_MAX];
	int ndet;
	int splice;   /* output is a pipe: splice large messages */
	void *map;    /* the mapping that holds the arena */
	uint8_t *arena;
	size_t fill, sent; /* arena bytes written, and spliced */
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

/* The largest pipe an unprivileged process may ask for. */
static size_t pipe_max_size(void)
{
	unsigned long v = 0;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	if (v < ((size_t)64 << 10))
		return (size_t)1 << 20;
	return v < PIPE_MAX ? v : PIPE_MAX;
}

/* Bigger pipe buffers mean fewer context switches between stages, and
 * room for a whole batch.  Either end may ask; a refusal (a per-user
 * limit on pipe memory) only leaves the pipe smaller.  Returns 1 when fd
 * is a pipe. */
static int grow_pipe(int fd)
{
	struct stat st;
	int cur;
	if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
		return 0;
	cur = fcntl(fd, F_GETPIPE_SZ);
	for (size_t sz = pipe_max_size(); cur >= 0 && sz > (size_t)cur &&
	     sz >= ((size_t)64 << 10); sz /= 2)
		if (fcntl(fd, F_SETPIPE_SZ, (int)sz) >= 0)
			break;
	return 1;
}

/* 1 when transparent huge pages may back an madvise(MADV_HUGEPAGE)
 * region: without them, fresh arena pages cost a fault each, more than
 * the copy that splicing saves. */
static int thp_available(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[always]") || strstr(line, "[madvise]");
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
		(void)grow_pipe(0);
	} else {
		c->fd = open(e, O_RDONLY | O_CLOEXEC);
		c->owns_fd = 1;
		if (c->fd < 0)
			rc = qt_error(QT_EUSAGE, "cannot open '%s': %s", e,
				      strerror(errno));
	}
	if (!rc && c->kind == CHAN_FD) {
		c->ahead = READ_AHEAD;
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
		c->splice = grow_pipe(1) && thp_available();
	} else if (stat(e, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* /dev/null, a FIFO, /dev/fd/N of a process substitution:
		 * write in place; renaming a temporary file over them would
		 * replace the device (as root) or fail. */
		c->fd = open(e, O_WRONLY | O_CLOEXEC);
		c->owns_fd = 1;
		if (c->fd < 0)
			rc = qt_error(QT_EUSAGE, "cannot write '%s': %s", e,
				      strerror(errno));
		else
			c->splice = grow_pipe(c->fd) && thp_available();
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

/* A big-endian 32-bit length at p. */
static uint64_t be32(const uint8_t *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |
	       (uint64_t)p[2] << 8 | p[3];
}

/* The pairs of a map whose header is at p[0..n), and the header's length;
 * 0 when p does not start with a whole map header. */
static int map_head(const uint8_t *p, size_t n, uint64_t *pairs, size_t *hdr)
{
	if (n >= 1 && p[0] >= 0x80 && p[0] <= 0x8f) {
		*pairs = p[0] & 0x0f;
		*hdr = 1;
		return 1;
	}
	if (n >= 3 && p[0] == 0xde) {
		*pairs = (uint64_t)p[1] << 8 | p[2];
		*hdr = 3;
		return 1;
	}
	if (n >= 5 && p[0] == 0xdf) {
		*pairs = be32(p + 1);
		*hdr = 5;
		return 1;
	}
	return 0;
}

/* 1 when the len bytes at p are the string or bin "data". */
static int is_data_key(const uint8_t *p, size_t len)
{
	if (len == 5 && p[0] == 0xa4)
		return !memcmp(p + 1, "data", 4);
	if (len == 6 && (p[0] == 0xc4 || p[0] == 0xd9) && p[1] == 4)
		return !memcmp(p + 2, "data", 4);
	return 0;
}

/* In the first n bytes of a message, find a tensor's data whose body has
 * not fully arrived: a bin 32 of at least DETACH_MIN bytes that is the
 * value of key "data" in a map that is a value of the message's map (a
 * batch's tensor map; the codec reads such a bin only as tensor data).
 * Sets *off, *len to its body.  Returns 0 when there is none among the
 * bytes that have arrived; bytes that are not MessagePack are left to
 * the framing to report.  Bin bodies are skipped, never read. */
static int find_data_bin(const uint8_t *p, size_t n, size_t max, size_t *off,
			 size_t *len)
{
	uint64_t pairs, inner;
	size_t pos, l, h;
	if (!map_head(p, n, &pairs, &h))
		return 0;
	pos = h;
	for (uint64_t i = 0; i < pairs; i++) {
		if (qt_mp_frame(p + pos, n - pos, max, &l) != 1)
			return 0;
		pos += l;
		if (!map_head(p + pos, n - pos, &inner, &h)) {
			if (qt_mp_frame(p + pos, n - pos, max, &l) != 1)
				return 0;
			pos += l;
			continue;
		}
		pos += h;
		for (uint64_t j = 0; j < inner; j++) {
			int data;
			if (qt_mp_frame(p + pos, n - pos, max, &l) != 1)
				return 0;
			data = is_data_key(p + pos, l);
			pos += l;
			if (data && n - pos >= 5 && p[pos] == 0xc6) {
				uint64_t body = be32(p + pos + 1);
				/* large, within the limit, not all here */
				if (body >= DETACH_MIN &&
				    pos + 5 + body <= max &&
				    n - pos - 5 < body) {
					*off = pos + 5;
					*len = (size_t)body;
					return 1;
				}
			}
			if (qt_mp_frame(p + pos, n - pos, max, &l) != 1)
				return 0;
			pos += l;
		}
	}
	return 0;
}

/* Free the detached data that the last message's decoder left. */
static void drop_detached(qt_chan *c)
{
	for (int i = 0; i < c->ndet; i++)
		qt_free(c->det[i].data);
	c->ndet = 0;
}

/* When the message being framed has a large tensor data bin that is still
 * arriving, read its body straight into an aligned buffer of its own
 * (what arrived of it already is copied there), and account the bytes as
 * if they were in the message buffer, where they are left unwritten.
 * Returns 1 when it did, 0 when there is nothing to detach. */
static int detach_data(qt_chan *c, size_t max)
{
	size_t have = c->end - c->start, off, len, got;
	uint8_t *data;
	int rc;
	if (c->ndet == DETACH_MAX ||
	    !find_data_bin(c->buf + c->start, have, max, &off, &len))
		return 0;
	/* Move the message to the front while it is short: later reads
	 * then never move it, nor the unwritten bytes. */
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, have);
		c->start = 0;
		c->end = have;
	}
	if (off + len > c->cap && (rc = grow_buf(c, off + len, max)) < 0)
		return rc;
	if (!(data = qt_alloc(len)))
		return qt_error(QT_ENOMEM, "out of memory reading a %zu-byte "
				"tensor", len);
	got = have - off;
	memcpy(data, c->buf + off, got);
	c->det[c->ndet++] = (qt_detached){.off = off, .len = len, .data = data};
	while (got < len) {
		ssize_t r = read(c->fd, data + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			c->end = off + got;
			return qt_error(QT_EIO, "read error: %s",
					strerror(errno));
		}
		if (r == 0) {
			c->eof = 1;
			break;
		}
		got += (size_t)r;
		c->bytes += (uint64_t)r;
	}
	c->end = off + got;
	return 1;
}

/* Frame messages out of the byte stream.  Each read asks for what the
 * message being framed still lacks (qt_mp_frame's lower bound), or
 * READ_AHEAD bytes when that is less: a large message then ends where a
 * read ends, so it is never moved within the buffer, and the buffer
 * grows to the largest message, not beyond.  With `detach`, large tensor
 * data goes to buffers of its own instead (detach_data). */
static int recv_fd(qt_chan *c, const uint8_t **p, size_t *len)
{
	size_t max = qt_max_message();
	drop_detached(c);
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
				c->ahead = c->ndet ? DETACH_AHEAD : READ_AHEAD;
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
		if (c->detach && c->need >= have + DETACH_MIN) {
			if ((rc = detach_data(c, max)) < 0)
				return rc;
			if (rc)
				continue;
		}
		want = c->need > have ? c->need - have : 0;
		if (want < c->ahead)
			want = c->ahead;
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
	if (c->kind == CHAN_ZMQ)
		return recv_zmq(c, p, len);
	c->detach = 0;
	return recv_fd(c, p, len);
}

int qt_chan_recv_detached(qt_chan *c, const uint8_t **p, size_t *len,
			  qt_detached **d, int *nd)
{
	int rc;
	if (c->kind == CHAN_ZMQ) {
		*d = NULL;
		*nd = 0;
		return recv_zmq(c, p, len);
	}
	c->detach = 1;
	rc = recv_fd(c, p, len);
	*d = c->det;
	*nd = c->ndet;
	return rc;
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

/* Write pieces v[0..n-1] with writev (which may write part of them: go
 * on from where it stopped).  v is used up. */
static int send_writev(qt_chan *c, struct iovec *v, int n)
{
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

/* Give the arena fresh pages: MADV_DONTNEED drops this process's
 * mappings of the old ones (the pipe, or whoever the reader passed them
 * on to, still holds them) and the next write faults in a new, zeroed
 * huge page, which mincore then confirms.  Returns 1 when the arena is
 * ready, 0 when splicing should stop (no huge page: 512 faults per arena
 * would cost more than the copies saved). */
static int renew_arena(qt_chan *c)
{
	unsigned char vec[ARENA / 4096];
	long page = sysconf(_SC_PAGESIZE);
	if (page < 4096 || ARENA % (size_t)page)
		return 0;
	if (!c->arena) {
		size_t align = ARENA;
		uint8_t *m = mmap(NULL, ARENA + align, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 0;
		c->map = m;
		c->arena = m + ((align - (uintptr_t)m % align) % align);
		(void)madvise(c->arena, ARENA, MADV_DONTFORK);
		if (madvise(c->arena, ARENA, MADV_HUGEPAGE) != 0)
			return 0;
	} else if (madvise(c->arena, ARENA, MADV_DONTNEED) != 0) {
		return 0;
	}
	c->fill = c->sent = 0;
	c->arena[0] = 0;
	return mincore(c->arena, ARENA, vec) == 0 &&
	       (vec[ARENA / (size_t)page - 1] & 1);
}

/* vmsplice the arena's unsent bytes into the pipe.  When the kernel
 * cannot (EINVAL, ENOSYS: not a pipe after all, no vmsplice; EPERM: a
 * seccomp filter), write them instead and stop splicing. */
static int splice_arena(qt_chan *c)
{
	while (c->sent < c->fill) {
		struct iovec v = {.iov_base = c->arena + c->sent,
				  .iov_len = c->fill - c->sent};
		ssize_t w = vmsplice(c->fd, &v, 1, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0 && (w == 0 || errno == EINVAL || errno == ENOSYS ||
			       errno == EPERM)) {
			c->splice = 0;
			c->sent = c->fill;
			return send_writev(c, &v, 1);
		}
		if (w < 0)
			return c->err = qt_error(QT_EIO, "write error: %s",
						 strerror(errno));
		c->sent += (size_t)w;
		c->bytes += (uint64_t)w;
	}
	return 0;
}

/* Send a message into a pipe by copying it into the arena and splicing
 * the arena's pages into the pipe, which then holds references to them
 * and no copy.  The pipe reads those pages when its reader reads, so no
 * byte of the arena is written again once spliced: a message goes after
 * the bytes already spliced, and a full arena gets fresh pages
 * (renew_arena) rather than being overwritten.  That holds whoever ends
 * up with the pages and for however long, also when the reader splices
 * them on into another pipe or a socket (pv, tee), which a scheme that
 * recycled buffers once the pipe had drained would get wrong.  Bytes
 * after a spliced range in the same page are written, but no reader sees
 * them through that range, and the kernel never appends to a spliced
 * page (it is not a pipe page it may merge into).  v is used up. */
static int send_spliced(qt_chan *c, struct iovec *v, int n)
{
	int rc;
	for (int i = 0; i < n; i++) {
		while (v[i].iov_len) {
			size_t k = ARENA - c->fill;
			if (!k || !c->arena) {
				if ((rc = splice_arena(c)) < 0)
					return rc;
				if (!c->splice || !renew_arena(c)) {
					c->splice = 0;
					return send_writev(c, v + i, n - i);
				}
				k = ARENA;
			}
			if (k > v[i].iov_len)
				k = v[i].iov_len;
			memcpy(c->arena + c->fill, v[i].iov_base, k);
			c->fill += k;
			v[i].iov_base = (char *)v[i].iov_base + k;
			v[i].iov_len -= k;
		}
	}
	return splice_arena(c);
}

int qt_chan_sendv(qt_chan *c, const struct iovec *iov, int n)
{
	struct iovec v[QT_SENDV_MAX];
	size_t len = 0;
	if (c->err)
		return c->err;
	if (n < 0 || n > QT_SENDV_MAX)
		return qt_error(QT_EINTERNAL, "qt_chan_sendv: %d pieces", n);
	if (c->kind == CHAN_ZMQ)
		return sendv_zmq(c, iov, n);
	memcpy(v, iov, (size_t)n * sizeof *v);
	for (int i = 0; i < n; i++)
		len += v[i].iov_len;
	if (c->splice && len >= SPLICE_MIN)
		return send_spliced(c, v, n);
	return send_writev(c, v, n);
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
	drop_detached(c);
	if (c->map)
		munmap(c->map, 2 * ARENA);
	free(c->buf);
	free(c->path);
	free(c->tmp);
	free(c);
	return rc;
}
