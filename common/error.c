/* error.c: thread-local last-error message (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[1024];

int qt_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof last_msg, fmt, ap);
	va_end(ap);
	return code;
}

int qt_error_prefix(int code, const char *fmt, ...)
{
	char prefix[512], old[sizeof last_msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, last_msg, sizeof old);
	if (!old[0])
		snprintf(old, sizeof old, "%s", qt_strerror(code));
	size_t n = strlen(prefix);
	if (n >= sizeof last_msg)
		n = sizeof last_msg - 1;
	memcpy(last_msg, prefix, n);
	snprintf(last_msg + n, sizeof last_msg - n, "%s", old);
	return code;
}

const char *qt_error_message(int code)
{
	return last_msg[0] ? last_msg : qt_strerror(code);
}

void qt_error_clear(void)
{
	last_msg[0] = '\0';
}

const char *qt_strerror(int code)
{
	switch (code) {
	case QT_OK: return "success";
	case QT_EUSAGE: return "bad usage";
	case QT_EFORMAT: return "bad input format";
	case QT_ESHAPE: return "shape or dtype mismatch";
	case QT_EIO: return "input/output error";
	case QT_ENOMEM: return "out of memory or over a size limit";
	case QT_ENODEV: return "device not available";
	case QT_ENUMERIC: return "non-finite number";
	case QT_EINTERNAL: return "internal error";
	default: return "unknown error";
	}
}

int qt_exit_status(int code)
{
	switch (code) {
	case QT_OK: return 0;
	case QT_EUSAGE: case QT_EFORMAT: case QT_ESHAPE: case QT_ENUMERIC:
		return 2;
	default:
		return 1;
	}
}
