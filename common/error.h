/* error.h: status codes and the last-error message of the quanta libraries.
 *
 * Library code in common/ and kernels/ never prints and never exits: it
 * returns 0 or a negative QT_E* code.  Functions that fail for a reason the
 * user should read record a one-line message with qt_error(), which returns
 * the code so call sites can write `return qt_error(QT_EFORMAT, "...")`.
 * Only a stage's main prints the message (as `quanta-STAGE: message`) and
 * maps the code to an exit status with qt_exit_status().
 *
 * The message buffer is thread-local: a worker thread's error does not
 * overwrite the main thread's.
 */
#ifndef QT_ERROR_H
#define QT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum qt_status {
	QT_OK = 0,
	QT_EUSAGE = -1,   /* bad argument or option from the caller */
	QT_EFORMAT = -2,  /* input data that does not follow its format */
	QT_ESHAPE = -3,   /* tensors whose shapes or dtypes do not fit */
	QT_EIO = -4,      /* a file, pipe or socket could not be read or written */
	QT_ENOMEM = -5,   /* an allocation failed or a size is over a limit */
	QT_ENODEV = -6,   /* the requested device (CUDA) is not available */
	QT_ENUMERIC = -7, /* NaN or Inf where finite numbers are required */
	QT_EINTERNAL = -8 /* a broken invariant: a bug in quanta */
};

/* Record a printf-style message for code `code` and return `code`. */
int qt_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the recorded message with a context ("reading x.h5: " ...) and
 * return `code` unchanged. */
int qt_error_prefix(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The last recorded message of this thread, or a generic text for `code`
 * when none was recorded since qt_error_clear(). */
const char *qt_error_message(int code);
void qt_error_clear(void);

/* Generic name of a status code ("bad input format", ...). */
const char *qt_strerror(int code);

/* Exit status for a stage: 0 for QT_OK; 1 for runtime failures (I/O on an
 * established stream, memory, device, internal); 2 for bad usage or input. */
int qt_exit_status(int code);

#ifdef __cplusplus
}
#endif

#endif
