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
	"      --rename A=B     call field A B in the stream (repeatable)\n"
	"      --shape F=D1,D2  give field F this per-sample shape, with as many\n"
	"                       elements (e.g. maps=1,200,200 adds a channel axis)\n"
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
	"  quanta load penguins.csv --group bill=bill_length_mm,bill_depth_mm -o p.qs\n"
	"  quanta load eor.h5 --rename images=maps --shape maps=1,200,200 -o maps.qs\n";

enum { O_NAME = 256, O_CLASSES, O_INT, O_FLOAT, O_GROUP, O_RENAME, O_SHAPE };

/* --rename and --shape, applied to the header once and to each batch. */
struct reshape {
	char **renames, **shapes;
	int nrenames, nshapes;
	int field[QT_MAX_FIELDS];  /* fields whose per-sample shape changed */
	int nfield;
};

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

/* Apply --rename and --shape to the header. */
static int apply_reshape(struct reshape *r, qt_header *h)
{
	for (int k = 0; k < r->nrenames; k++) {
		char *eq = strchr(r->renames[k], '=');
		int f;
		if (!eq)
			return qt_error(QT_EUSAGE, "--rename '%s': expected OLD=NEW",
					r->renames[k]);
		*eq = '\0';
		f = qt_header_find(h, r->renames[k]);
		if (f < 0)
			return qt_error(QT_EUSAGE, "--rename: no field '%s'",
					r->renames[k]);
		if (qt_header_find(h, eq + 1) >= 0 || !eq[1] ||
		    strlen(eq + 1) >= QT_NAME_MAX ||
		    strspn(eq + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
			   "OPQRSTUVWXYZ0123456789_-") != strlen(eq + 1))
			return qt_error(QT_EUSAGE, "--rename: '%s' is not a free "
					"field name", eq + 1);
		snprintf(h->fields[f].name, QT_NAME_MAX, "%s", eq + 1);
		for (int i = 0; i < h->nfields; i++)
			if (!strcmp(h->fields[i].index_of, r->renames[k]))
				snprintf(h->fields[i].index_of, QT_NAME_MAX, "%s",
					 eq + 1);
		*eq = '=';
	}
	for (int k = 0; k < r->nshapes; k++) {
		char *eq = strchr(r->shapes[k], '='), **dims;
		int f, nd, rc;
		int64_t shape[QT_MAX_DIMS];
		qt_field *fl;
		if (!eq)
			return qt_error(QT_EUSAGE, "--shape '%s': expected "
					"FIELD=D1,D2,...", r->shapes[k]);
		*eq = '\0';
		f = qt_header_find(h, r->shapes[k]);
		*eq = '=';
		if (f < 0)
			return qt_error(QT_EUSAGE, "--shape '%s': no such field",
					r->shapes[k]);
		fl = &h->fields[f];
		if ((rc = qt_parse_list(eq + 1, "--shape", &dims, &nd)) < 0)
			return rc;
		for (int d = 0; d < nd && !rc; d++) {
			long long v;
			rc = qt_parse_int(dims[d], "--shape", 0, 1LL << 40, &v);
			shape[d] = v;
		}
		qt_free_list(dims, nd);
		if (rc < 0)
			return rc;
		if (nd > QT_MAX_DIMS - 1)
			return qt_error(QT_EUSAGE, "--shape: at most %d dimensions",
					QT_MAX_DIMS - 1);
		if ((fl->ndim && fl->shape[0] < 0) || fl->index_of[0])
			return qt_error(QT_EUSAGE, "--shape: '%s' is ragged",
					fl->name);
		if (qt_shape_numel(nd, shape) != qt_shape_numel(fl->ndim,
								fl->shape)) {
			char s1[96], s2[96];
			return qt_error(QT_EUSAGE, "--shape: '%s' has %s per sample; "
					"%s has another number of elements",
					fl->name, qt_shape_str(s1, sizeof s1,
							       fl->ndim, fl->shape),
					qt_shape_str(s2, sizeof s2, nd, shape));
		}
		fl->ndim = nd;
		memcpy(fl->shape, shape, (size_t)nd * sizeof *shape);
		r->field[r->nfield++] = f;
	}
	return 0;
}

/* Write every batch of the source to the stream, with the per-sample
 * shapes of --shape (views: the data is not copied). */
static int copy_batches(qt_source *src, qt_writer *w, int64_t batch,
			const struct reshape *r, const qt_header *h)
{
	const qt_batch *b;
	int rc;
	while ((rc = qt_source_next(src, batch, &b)) > 0) {
		qt_batch view = *b;
		qt_tensor t[QT_MAX_FIELDS];
		for (int k = 0; k < r->nfield; k++) {
			int f = r->field[k];
			t[k] = *b->t[f];
			t[k].owns = 0;
			t[k].ndim = h->fields[f].ndim + 1;
			memcpy(t[k].shape + 1, h->fields[f].shape,
			       (size_t)h->fields[f].ndim * sizeof *t[k].shape);
			view.t[f] = &t[k];
		}
		if ((rc = qt_writer_write(w, &view)) < 0)
			return rc;
	}
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
		{"rename", required_argument, 0, O_RENAME},
		{"shape", required_argument, 0, O_SHAPE},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	qt_source_opts o = {.count = -1};
	struct reshape rs = {0};
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
		case O_RENAME:
			if (rs.nrenames >= QT_MAX_FIELDS)
				rc = qt_error(QT_EUSAGE, "too many --rename");
			else
				rc = add_spec(optarg, &rs.renames, &rs.nrenames);
			break;
		case O_SHAPE:
			if (rs.nshapes >= QT_MAX_FIELDS)
				rc = qt_error(QT_EUSAGE, "too many --shape");
			else
				rc = add_spec(optarg, &rs.shapes, &rs.nshapes);
			break;
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
	if ((rc = apply_reshape(&rs, h)) < 0)
		goto out;
	if ((rc = step = qt_cli_provenance(h)) < 0 ||
	    (rc = qt_header_add_param(h, step, "file", path)) < 0 ||
	    (rc = qt_header_add_param(h, step, "format",
				      qt_source_format(src))) < 0)
		goto out;
	if ((rc = qt_writer_open(&w, output, h)) < 0)
		goto out;
	if ((rc = copy_batches(src, w, batch, &rs, h)) < 0) {
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
	qt_free_list(rs.renames, rs.nrenames);
	qt_free_list(rs.shapes, rs.nshapes);
	free(args);
	return rc;
}
