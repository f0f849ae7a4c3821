/* cli.h: what every stage's main shares: messages in the
 * `quanta-STAGE: what went wrong` form, --help/--version, strict number
 * parsing, provenance, and the final check of stdout.
 *
 *   int main(int argc, char **argv) {
 *       qt_cli_init("split", argc, argv);
 *       ... getopt_long(":hVi:o:", ...) with opterr = 0;
 *       on '?': return qt_cli_bad_option(argv, 0); on ':': (argv, 1)
 *       if ((rc = qt_parse_double(optarg, "--fraction", 0, 1, &frac)) < 0)
 *           return qt_cli_fail(rc);
 *       ...
 *       return qt_cli_finish(rc);
 *   }
 */
#ifndef QT_CLI_H
#define QT_CLI_H

#include "common/stream.h"
#include <stdint.h>

/* Remember the stage name and arguments (for messages and provenance). */
void qt_cli_init(const char *stage, int argc, char **argv);
const char *qt_cli_stage(void);

/* Print `quanta-STAGE: message` for an error code; return its exit
 * status (qt_exit_status). */
int qt_cli_fail(int code);
/* Print a usage error and "Try 'quanta STAGE --help'."; return 2. */
int qt_cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For getopt_long with opterr = 0 and an optstring starting with ':':
 * call on '?' with missing = 0 and on ':' with missing = 1. */
int qt_cli_bad_option(char **argv, int missing);
/* Print the version line to stdout; return 0. */
int qt_cli_version(void);
/* Print a help text to stdout; return 0. */
int qt_cli_help(const char *text);
/* Warning or note on stderr: `quanta-STAGE: ...`. */
void qt_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict parsing: the whole string must be a number in [min, max].
 * On failure record "OPTION: ..." and return QT_EUSAGE. */
int qt_parse_int(const char *s, const char *opt, long long min,
		 long long max, long long *out);
int qt_parse_double(const char *s, const char *opt, double min, double max,
		    double *out);
/* A list "a,b,c" into at most `max` newly allocated strings. */
int qt_parse_list(const char *s, const char *opt, char ***items, int *n);
void qt_free_list(char **items, int n);

/* Append this stage's step (name, arguments, version) to h's provenance;
 * returns the step index (for qt_header_add_param) or an error.  The
 * input and output endpoints (-i, -o, --input, --output, --test-out,
 * --val-out, --rest) are left out: where the bytes flowed is not part of
 * the data's history, and a pipeline gives the same bytes over pipes,
 * files and sockets. */
int qt_cli_provenance(qt_header *h);

/* Flush and close stdout; a write error there is an error.  Returns the
 * exit status for `rc` (0 if rc == 0 and stdout closed cleanly). */
int qt_cli_finish(int rc);

#endif
