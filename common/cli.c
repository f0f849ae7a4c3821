/* cli.c: shared command-line helpers for the stages (see cli.h). */
#include "common/cli.h"
#include "common/error.h"
#include "common/version.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *stage = "quanta";
static int saved_argc;
static char **saved_argv;

void qt_cli_init(const char *name, int argc, char **argv)
{
	stage = name;
	saved_argc = argc;
	saved_argv = argv;
}

const char *qt_cli_stage(void)
{
	return stage;
}

int qt_cli_fail(int code)
{
	fprintf(stderr, "quanta-%s: %s\n", stage, qt_error_message(code));
	return qt_exit_status(code);
}

int qt_cli_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "quanta-%s: ", stage);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'quanta %s --help'.\n", stage);
	return 2;
}

int qt_cli_bad_option(char **argv, int missing)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	char shortopt[3] = {'-', (char)optopt, 0};
	if (optopt && strncmp(arg, "--", 2))
		arg = shortopt;
	if (missing)
		return qt_cli_usage("option '%s' needs a value", arg);
	return qt_cli_usage("unknown option '%s'", arg);
}

int qt_cli_version(void)
{
	printf("quanta-%s (quanta) %s\n", stage, QUANTA_VERSION_STRING);
	return 0;
}

int qt_cli_help(const char *text)
{
	fputs(text, stdout);
	return 0;
}

void qt_cli_note(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "quanta-%s: ", stage);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int qt_parse_int(const char *s, const char *opt, long long min,
		 long long max, long long *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return qt_error(QT_EUSAGE, "%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		return qt_error(QT_EUSAGE, "%s: %lld is outside [%lld, %lld]",
				opt, v, min, max);
	*out = v;
	return 0;
}

int qt_parse_double(const char *s, const char *opt, double min, double max,
		    double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !isfinite(v))
		return qt_error(QT_EUSAGE, "%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		return qt_error(QT_EUSAGE, "%s: %g is outside [%g, %g]", opt, v,
				min, max);
	*out = v;
	return 0;
}

void qt_free_list(char **items, int n)
{
	for (int i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

int qt_parse_list(const char *s, const char *opt, char ***items, int *n)
{
	int cap = 1, k = 0;
	char **v;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	v = calloc((size_t)cap, sizeof *v);
	if (!v)
		return qt_error(QT_ENOMEM, "out of memory");
	for (const char *p = s;; ) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0) {
			qt_free_list(v, k);
			return qt_error(QT_EUSAGE, "%s: empty item in '%s'", opt, s);
		}
		if (!(v[k] = strndup(p, len))) {
			qt_free_list(v, k);
			return qt_error(QT_ENOMEM, "out of memory");
		}
		k++;
		if (!e)
			break;
		p = e + 1;
	}
	*items = v;
	*n = k;
	return 0;
}

/* Options that name where bytes flow, not what was done to them. */
static int is_endpoint_option(const char *a, int *takes_value)
{
	static const char *const longs[] = {"--input", "--output", "--test-out",
					    "--val-out", "--rest", NULL};
	*takes_value = 1;
	if (!strcmp(a, "-i") || !strcmp(a, "-o"))
		return 1;
	if (a[0] == '-' && (a[1] == 'i' || a[1] == 'o') && a[2]) {
		*takes_value = 0; /* -oFILE */
		return 1;
	}
	for (int k = 0; longs[k]; k++) {
		size_t n = strlen(longs[k]);
		if (!strncmp(a, longs[k], n) && (a[n] == '\0' || a[n] == '=')) {
			*takes_value = a[n] == '\0';
			return 1;
		}
	}
	return 0;
}

int qt_cli_provenance(qt_header *h)
{
	/* The stage's arguments without its input and output endpoints:
	 * the same data through a pipe, a file or a socket has the same
	 * history, and so the same bytes. */
	char **args = calloc((size_t)(saved_argc > 0 ? saved_argc : 1),
			     sizeof *args);
	int n = 0, rc;
	if (!args)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 1; i < saved_argc; i++) {
		int takes;
		if (!strcmp(saved_argv[i], "--")) {
			while (i < saved_argc)
				args[n++] = saved_argv[i++];
			break;
		}
		if (is_endpoint_option(saved_argv[i], &takes)) {
			i += takes;
			continue;
		}
		args[n++] = saved_argv[i];
	}
	rc = qt_header_add_prov(h, stage, n, args);
	free(args);
	return rc;
}

int qt_cli_finish(int rc)
{
	int status = rc ? qt_cli_fail(rc) : 0;
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (!status && errno != EPIPE) {
			fprintf(stderr, "quanta-%s: write error on standard "
				"output: %s\n", stage, strerror(errno));
			status = 1;
		}
	}
	return status;
}
