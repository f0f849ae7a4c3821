/* save.c: `quanta save OUT.h5|OUT.npy|OUT.npz`: a tensor stream into a
 * data file.  The work is in common/sink.c; this is the command line
 * around it.  The file appears under its name only when the input
 * stream ended cleanly; memory is bounded by one batch. */
#include "common/cli.h"
#include "common/error.h"
#include "common/sink.h"
#include "common/stream.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char help[] =
	"Usage: quanta save OUT.h5|OUT.npy|OUT.npz [OPTIONS]\n"
	"Write a tensor stream into an HDF5, .npy or .npz file.  The file appears\n"
	"only when the whole stream has arrived intact.\n"
	"\n"
	"  -i, --input IN       input: '-' (stdin, default), a file or a ZeroMQ\n"
	"                       endpoint (@tcp://*:5555 binds, >tcp://host:5555 connects)\n"
	"  -f, --fields A,B     fields to save (default: all)\n"
	"  -c, --compress N     gzip level 0-9 for .h5 datasets and .npz members\n"
	"                       (default 0: uncompressed)\n"
	"  -h, --help           this help\n"
	"  -V, --version        the version\n"
	"\n"
	"HDF5: one dataset per field, class names in a 'classes' attribute, the\n"
	"provenance as JSON in the root attribute 'provenance'; a ragged field NAME\n"
	"is its concatenated rows plus offsets NAME_ptr.  .npy holds exactly one\n"
	"field; .npz one member per field.\n"
	"\n"
	"Examples:\n"
	"  quanta simulate jets -n 1000 | quanta save jets.h5 --compress 4\n"
	"  quanta load jets.h5 | quanta save labels.npy --fields labels\n";

/* The fields to keep (indices into the input header), checked. */
static int select_fields(const qt_header *in, char **names, int n,
			 int *keep, int *nkeep)
{
	if (n == 0) {
		for (int i = 0; i < in->nfields; i++)
			keep[i] = i;
		*nkeep = in->nfields;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		int f = qt_header_find(in, names[i]);
		if (f < 0)
			return qt_error(QT_EUSAGE, "--fields: the stream has no "
					"field '%s'", names[i]);
		for (int j = 0; j < i; j++)
			if (keep[j] == f)
				return qt_error(QT_EUSAGE, "--fields names '%s' "
						"twice", names[i]);
		keep[i] = f;
	}
	*nkeep = n;
	for (int i = 0; i < n; i++) {
		const qt_field *f = &in->fields[keep[i]];
		int t = f->index_of[0] ? qt_header_find(in, f->index_of) : -1, ok = 0;
		for (int j = 0; j < n && t >= 0; j++)
			ok |= keep[j] == t;
		if (t >= 0 && !ok)
			return qt_error(QT_EUSAGE, "--fields: '%s' indexes rows of "
					"'%s'; save them together", f->name,
					f->index_of);
	}
	return 0;
}

/* The output header: the kept fields, in that order, and the input's
 * provenance (this step is added by the caller). */
static qt_header *out_header(const qt_header *in, const int *keep, int n)
{
	qt_header *h = qt_header_clone(in);
	if (!h)
		return NULL;
	while (h->nfields > 0)
		qt_header_remove_field(h, h->nfields - 1);
	for (int i = 0; i < n; i++) {
		const qt_field *f = &in->fields[keep[i]];
		if (qt_header_add_field(h, f->name, f->dtype, f->ndim,
					f->shape) < 0 ||
		    (f->nclasses &&
		     qt_header_set_classes(h, i, f->nclasses,
					   (const char *const *)f->classes) < 0) ||
		    (f->index_of[0] &&
		     qt_header_set_index_of(h, i, f->index_of) < 0)) {
			qt_header_free(h);
			return NULL;
		}
	}
	return h;
}

static int is_numpy(const char *path)
{
	size_t n = strlen(path);
	return n > 4 && (!strcasecmp(path + n - 4, ".npy") ||
			 !strcasecmp(path + n - 4, ".npz"));
}

static int save_stream(qt_reader *r, qt_sink *k, const int *keep, int n)
{
	qt_batch *b;
	int rc;
	while ((rc = qt_reader_next(r, &b)) > 0) {
		qt_batch view = {.n = b->n, .nfields = n};
		for (int i = 0; i < n; i++) {
			view.t[i] = b->t[keep[i]];
			view.ptr[i] = b->ptr[keep[i]];
		}
		rc = qt_sink_write(k, &view);
		qt_batch_free(b);
		if (rc < 0)
			return rc;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"input", required_argument, 0, 'i'},
		{"fields", required_argument, 0, 'f'},
		{"compress", required_argument, 0, 'c'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	const char *input = "-", *path;
	char **names = NULL, **args;
	int nnames = 0, keep[QT_MAX_FIELDS], nkeep = 0;
	int c, rc = 0, step;
	long long compress = 0;
	qt_reader *r = NULL;
	qt_sink *k = NULL;
	qt_header *h = NULL;

	qt_cli_init("save", argc, argv);
	/* getopt_long permutes its array; argv keeps the user's order. */
	if (!(args = calloc((size_t)argc + 1, sizeof *args)))
		return qt_cli_fail(qt_error(QT_ENOMEM, "out of memory"));
	memcpy(args, argv, (size_t)argc * sizeof *args);
	opterr = 0;
	while ((c = getopt_long(argc, args, ":hVi:f:c:", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'f':
			qt_free_list(names, nnames);
			names = NULL;
			nnames = 0;
			rc = qt_parse_list(optarg, "--fields", &names, &nnames);
			if (rc == 0 && nnames > QT_MAX_FIELDS)
				rc = qt_error(QT_EUSAGE, "--fields: too many");
			break;
		case 'c':
			rc = qt_parse_int(optarg, "--compress", 0, 9, &compress);
			break;
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
		rc = optind >= argc ? qt_cli_usage("missing OUT file to save to")
				    : qt_cli_usage("unexpected argument '%s'",
						   args[optind + 1]);
		goto done;
	}
	path = args[optind];
	if (!qt_sink_known(path)) {
		rc = qt_cli_usage("'%s': unknown output type (use .h5, .npy or "
				  ".npz)", path);
		goto done;
	}

	if ((rc = qt_reader_open(&r, input)) < 0 ||
	    (rc = select_fields(qt_reader_header(r), names, nnames, keep,
				&nkeep)) < 0)
		goto out;
	if (!(h = out_header(qt_reader_header(r), keep, nkeep))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = step = qt_cli_provenance(h)) < 0 ||
	    (rc = qt_header_add_param(h, step, "file", path)) < 0)
		goto out;
	if ((rc = qt_sink_open(&k, path, h, (int)compress)) < 0)
		goto out;
	rc = save_stream(r, k, keep, nkeep);
	{
		int rc2 = qt_sink_close(k, rc == 0);
		if (!rc)
			rc = rc2;
	}
	for (int i = 0; i < h->nfields && !rc; i++)
		if (h->fields[i].nclasses && is_numpy(path))
			qt_cli_note("the class names of '%s' are not kept in %s",
				    h->fields[i].name, path);
out:
	qt_header_free(h);
	qt_reader_close(r);
	rc = qt_cli_finish(rc);
done:
	qt_free_list(names, nnames);
	free(args);
	return rc;
}
