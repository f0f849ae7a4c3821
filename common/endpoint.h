/* endpoint.h: where a stream comes from or goes to.  One interface over
 * file descriptors (stdin/stdout, files) and ZeroMQ sockets: input yields
 * whole MessagePack messages, output sends them.
 *
 * Endpoint strings (CZMQ's convention):
 *   "-"                  stdin / stdout
 *   PATH                 a file; output goes to a temporary name beside it
 *                        and is renamed into place by qt_chan_close(.., 1)
 *   "@tcp://0.0.0.0:5555" bind a ZeroMQ socket (also ipc://PATH)
 *   ">tcp://host:5555"   connect a ZeroMQ socket
 *   "tcp://..."          without a prefix: input binds, output connects
 * Output sockets are PUSH, input sockets PULL.
 */
#ifndef QT_ENDPOINT_H
#define QT_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct qt_chan qt_chan;

/* 1 when the string names a ZeroMQ endpoint. */
int qt_endpoint_is_socket(const char *endpoint);

int qt_chan_open_in(qt_chan **c, const char *endpoint);
int qt_chan_open_out(qt_chan **c, const char *endpoint);
/* Input: 1 and (*p, *len) = the next message, valid until the next call;
 * 0 at the end of input; < 0 on error (truncated message, I/O error). */
int qt_chan_recv(qt_chan *c, const uint8_t **p, size_t *len);
/* Output: send one whole message. */
int qt_chan_send(qt_chan *c, const void *p, size_t len);
/* Output: send one whole message made of n <= QT_SENDV_MAX pieces, in
 * order: a file descriptor gets them with writev (no copy of large
 * tensor data in user space), a socket as one ZeroMQ message. */
#define QT_SENDV_MAX 1024
struct iovec;
int qt_chan_sendv(qt_chan *c, const struct iovec *iov, int n);
/* 1 when the channel is a socket (an end map is then mandatory). */
int qt_chan_is_socket(const qt_chan *c);
uint64_t qt_chan_bytes(const qt_chan *c);
/* Close.  For a file output, commit = 1 renames the temporary file into
 * place, 0 removes it.  Returns the first error seen on the channel. */
int qt_chan_close(qt_chan *c, int commit);

#endif
