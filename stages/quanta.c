/* quanta.c: the dispatcher.  `quanta STAGE ARGS...` runs quanta-STAGE from
 * the folder this program lives in, else from PATH, with the same
 * arguments. */
#include "common/version.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"Usage: quanta STAGE [OPTIONS...]\n"
	"Deep learning on physics data as small programs joined by tensor streams.\n"
	"\n"
	"Data:      load, save, inspect, simulate, split, filter, balance, normalise\n"
	"Models:    train, predict, evaluate\n"
	"Pictures:  plot-data\n"
	"\n"
	"Each stage reads a stream on stdin and writes one on stdout; -i and -o take\n"
	"a file, '-', or a ZeroMQ endpoint (@tcp://*:5555 binds, >tcp://host:5555\n"
	"connects).  'quanta STAGE --help' describes a stage.\n"
	"\n"
	"Example:\n"
	"  quanta simulate jets -n 1000 | quanta split --train 0.8 -o train.qs --rest test.qs\n";

int main(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 128], name[96];
	ssize_t n;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("quanta %s\n", QUANTA_VERSION_STRING);
		return 0;
	}
	if (strchr(argv[1], '/') || strlen(argv[1]) > 64 || argv[1][0] == '-') {
		fprintf(stderr, "quanta: '%s' is not a stage\n"
			"Try 'quanta --help'.\n", argv[1]);
		return 2;
	}
	snprintf(name, sizeof name, "quanta-%s", argv[1]);
	/* The stage's argv: its own name, then the arguments after STAGE. */
	char **args = calloc((size_t)argc, sizeof *args);
	if (!args)
		return 1;
	args[0] = name;
	for (int i = 2; i < argc; i++)
		args[i - 1] = argv[i];
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof path, "%s/%s", self, name);
			if (access(path, X_OK) == 0)
				execv(path, args);
		}
	}
	execvp(name, args);
	if (errno == ENOENT) {
		fprintf(stderr, "quanta: unknown stage '%s'\n"
			"Try 'quanta --help'.\n", argv[1]);
		return 2;
	}
	fprintf(stderr, "quanta: cannot run %s: %s\n", name, strerror(errno));
	return 1;
}
