/* load.c: `quanta load FILE`: an HDF5, .npy, .npz or CSV file as a
 * tensor stream.  The work is in common/source.c; this is the command
 * line around it.  Reads batch by batch: memory is bounded by --batch,
 * not by the file. */
#include "common/cli.h"
#include "common/error.h"
#include "common/source.h"
#include "common/stream.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta load FILE [OPTIONS]\n"
	"Read an HDF5 (.h5, .hdf5), .npy, .npz or CSV file and write it as a\n"
	"tensor stream, in batches.\n"
	"\n"
	"  -f, --fields A,B     datasets, members or columns to load, in this order\n"
	"                       (default: all those with the same number of samples)\n"
	"  -b, --batch N        samples per batch (default 256)\n"
	"  -s, --start S        first sample to load (default 0)\n"
	"  -n, --count C        samples to load (default: to the end)\n"
	"      --classes F=a,b  class names of the integer label field F (repeatable)\n"
	"      --name NAME      .npy: the field's name (default: the file's stem)\n"
	"      --int COLS       CSV: columns to load as int64 (exact integers)\n"
	"      --float COLS     CSV: columns to load as float32\n"
	"      --group N=A,B,C  CSV: columns A,B,C as one field N of shape (3,)\n"
	"  -o, --output OUT     output: '-' (stdout, default), a file or a ZeroMQ\n"
	"                       endpoint (@tcp://*:5555 binds, >tcp://host:5555 connects)\n"
	"  -h, --help           this help\n"
	"  -V, --version        the version\n"
	"\n"
	"HDF5: each dataset at the root becomes a field; NAME with NAME_ptr beside it\n"
	"is a ragged field; a 'classes' attribute names a label field's classes.\n"
	"CSV: numbers become float32 (NA is NaN), text becomes int64 class indices.\n"
	"\n"
	"Examples:\n"
	"  quanta load jets.h5 --classes labels=g,q,t,w,z | quanta inspect\n"
	"  quanta load penguins.csv --group bill=bill_length_mm,bill_depth_mm -o p.qs\n";

enum { O_NAME = 256, O_CLASSES, O_INT, O_FLOAT, O_GROUP };

/* Append the items of a list option to *v. */
static int add_items(const char *arg, const char *opt, char ***v, int *n)
{
	char **items, **grown;
	int k, rc = qt_parse_list(arg, opt, &items, &k);
	if (rc < 0)
		return rc;
	grown = realloc(*v, (size_t)(*n + k) * sizeof *grown);
	if (!grown) {
		qt_free_list(items, k);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	memcpy(grown + *n, items, (size_t)k * sizeof *items);
	free(items);
	*v = grown;
	*n += k;
	return 0;
}

/* Append one whole argument (a NAME=a,b,c spec). */
static int add_spec(const char *arg, char ***v, int *n)
{
	char **grown = realloc(*v, (size_t)(*n + 1) * sizeof *grown);
	if (!grown || !(grown[*n] = strdup(arg))) {
		if (grown)
			*v = grown;
		return qt_error(QT_ENOMEM, "out of memory");
	}
	*v = grown;
	(*n)++;
	return 0;
}

static void free_opts(qt_source_opts *o)
{
	qt_free_list(o->fields, o->nfields);
	qt_free_list(o->classes, o->nclasses);
	qt_free_list(o->int_cols, o->nint);
	qt_free_list(o->float_cols, o->nfloat);
	qt_free_list(o->groups, o->ngroups);
}

/* Write every batch of the source to the stream. */
static int copy_batches(qt_source *src, qt_writer *w, int64_t batch)
{
	const qt_batch *b;
	int rc;
	while ((rc = qt_source_next(src, batch, &b)) > 0)
		if ((rc = qt_writer_write(w, b)) < 0)
			return rc;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"fields", required_argument, 0, 'f'},
		{"batch", required_argument, 0, 'b'},
		{"start", required_argument, 0, 's'},
		{"count", required_argument, 0, 'n'},
		{"classes", required_argument, 0, O_CLASSES},
		{"name", required_argument, 0, O_NAME},
		{"int", required_argument, 0, O_INT},
		{"float", required_argument, 0, O_FLOAT},
		{"group", required_argument, 0, O_GROUP},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	qt_source_opts o = {.count = -1};
	const char *output = "-", *path;
	long long batch = 256, v;
	qt_source *src = NULL;
	qt_writer *w = NULL;
	qt_header *h = NULL;
	char **args;
	int c, rc = 0, step;

	qt_cli_init("load", argc, argv);
	/* getopt_long permutes its array: give it a copy, so argv (and the
	 * provenance made from it) keeps the user's order. */
	if (!(args = calloc((size_t)argc + 1, sizeof *args)))
		return qt_cli_fail(qt_error(QT_ENOMEM, "out of memory"));
	memcpy(args, argv, (size_t)argc * sizeof *args);
	opterr = 0;
	while ((c = getopt_long(argc, args, ":hVf:b:s:n:o:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
			rc = add_items(optarg, "--fields", &o.fields, &o.nfields);
			break;
		case 'b':
			rc = qt_parse_int(optarg, "--batch", 1, 1LL << 30, &batch);
			break;
		case 's':
			rc = qt_parse_int(optarg, "--start", 0, INT64_MAX, &v);
			o.start = v;
			break;
		case 'n':
			rc = qt_parse_int(optarg, "--count", 0, INT64_MAX, &v);
			o.count = v;
			break;
		case O_CLASSES: rc = add_spec(optarg, &o.classes, &o.nclasses); break;
		case O_GROUP: rc = add_spec(optarg, &o.groups, &o.ngroups); break;
		case O_INT: rc = add_items(optarg, "--int", &o.int_cols, &o.nint); break;
		case O_FLOAT:
			rc = add_items(optarg, "--float", &o.float_cols, &o.nfloat);
			break;
		case O_NAME: o.name = optarg; break;
		case 'o': output = optarg; break;
		case 'h': rc = qt_cli_help(help); goto done;
		case 'V': rc = qt_cli_version(); goto done;
		case ':': rc = qt_cli_bad_option(args, 1); goto done;
		default: rc = qt_cli_bad_option(args, 0); goto done;
		}
		if (rc < 0) {
			rc = qt_cli_usage("%s", qt_error_message(rc));
			goto done;
		}
	}
	if (optind >= argc || optind + 1 < argc) {
		rc = optind >= argc ? qt_cli_usage("missing FILE to load")
				    : qt_cli_usage("unexpected argument '%s'",
						   args[optind + 1]);
		goto done;
	}
	path = args[optind];

	if ((rc = qt_source_open(&src, path, &o)) < 0)
		goto out;
	for (const char *p = qt_source_notes(src), *e; *p; p = e + 1) {
		e = strchr(p, '\n');
		qt_cli_note("%.*s", (int)(e - p), p);
	}
	if (!(h = qt_header_clone(qt_source_header(src)))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = step = qt_cli_provenance(h)) < 0 ||
	    (rc = qt_header_add_param(h, step, "file", path)) < 0 ||
	    (rc = qt_header_add_param(h, step, "format",
				      qt_source_format(src))) < 0)
		goto out;
	if ((rc = qt_writer_open(&w, output, h)) < 0)
		goto out;
	if ((rc = copy_batches(src, w, batch)) < 0) {
		qt_writer_abort(w);
		goto out;
	}
	rc = qt_writer_close(w);
out:
	qt_header_free(h);
	qt_source_close(src);
	rc = qt_cli_finish(rc);
done:
	free_opts(&o);
	free(args);
	return rc;
}
