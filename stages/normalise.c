/* normalise.c: quanta-normalise, fit normalisation parameters on one
 * stream and apply them to any stream of the same layout.
 *
 *   --fit P    one pass over the input computes min, max, mean and std of
 *              a field (global or per channel; common/normalise.h) and
 *              writes them to the HDF5 file P (atomically).  Unless
 *              --no-output, the input is then replayed (re-read when it is
 *              a file, else from a temporary copy: common/spool.h) and
 *              written normalised with those parameters, as --apply would:
 *              fit on the training set and normalise it in one step.
 *   --apply P  normalise the field with the parameters of P, after
 *              checking that the stream has the field and layout P was
 *              fitted on.  One pass, one batch in memory.
 *
 * The normalised field is float32.  Every output stream carries the
 * parameters' identity in its provenance (normalise.sha256 and friends) so
 * that train and predict can tell which preprocessing a stream had.
 * docs/stages/normalise.md is the manual.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/h5.h"
#include "common/normalise.h"
#include "common/provjson.h"
#include "common/spool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta normalise --fit PARAMS.h5 --field NAME [OPTIONS]\n"
	"       quanta normalise --apply PARAMS.h5 [OPTIONS]\n"
	"Fit normalisation parameters on a stream, or apply them to one.\n"
	"\n"
	"  -i, --input ENDPOINT   stream to read (default '-': stdin)\n"
	"  -o, --output ENDPOINT  stream to write (default '-': stdout)\n"
	"      --fit FILE         compute the statistics of --field and write them\n"
	"                         to FILE (HDF5); then write the input normalised\n"
	"                         with them (unless --no-output)\n"
	"      --apply FILE       normalise with the parameters in FILE\n"
	"  -f, --field NAME       the field to normalise (--fit; with --apply it\n"
	"                         must be the field FILE was fitted on)\n"
	"  -m, --method M         minmax: to [0, 1]; standard: zero mean, unit std;\n"
	"                         minmax,standard: both, in that order (default\n"
	"                         standard)\n"
	"      --per-channel      statistics per channel (the first per-sample axis;\n"
	"                         for a ragged field, the first after the rows)\n"
	"                         instead of over all values\n"
	"      --allow-constant   a constant channel (zero range or std) maps to 0\n"
	"                         with a warning, instead of being an error\n"
	"      --no-output        --fit only: write the parameters, no stream\n"
	"  -q, --quiet            do not report what was done on stderr\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"The field is written as float32.  The std is the population one (numpy's\n"
	"default).  NaN or Inf in the field is an error: filter first.\n"
	"\n"
	"Examples:\n"
	"  quanta normalise --fit maps.h5 --field maps --method minmax,standard \\\n"
	"      -i train.qs -o train-n.qs\n"
	"  quanta normalise --apply maps.h5 -i test.qs -o test-n.qs\n"
	"  quanta normalise --fit maps.h5 --field maps --no-output -i train.qs\n";

struct opts {
	const char *input, *output, *fit, *apply, *field, *method_s;
	int method, per_channel, allow_constant, no_output, quiet;
	int output_given;
};

/* The output header: the field as float32, and this step with the
 * parameters' identity. */
static int output_header(qt_header **out, const qt_header *in,
			 const qt_norm *n, int field, const char *path)
{
	qt_header *h = qt_header_clone(in);
	int rc, step;
	*out = NULL;
	if (!h)
		return qt_error(QT_ENOMEM, "out of memory");
	h->fields[field].dtype = QT_F32;
	step = rc = qt_cli_provenance(h);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "normalise.params", path);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "normalise.sha256", n->sha256);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "normalise.field", n->field);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "normalise.method",
					 qt_norm_method_name(n->method));
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "normalise.per_channel",
					 n->per_channel ? "1" : "0");
	if (rc < 0) {
		qt_header_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* Normalise every batch of `next` (a reader or a spool) into w. */
typedef int (*next_fn)(void *src, qt_batch **b);

static int reader_next(void *src, qt_batch **b)
{
	return qt_reader_next(src, b);
}

static int spool_next(void *src, qt_batch **b)
{
	return qt_spool_next(src, b);
}

static int normalise_all(const qt_norm *n, int field, next_fn next,
			 void *src, qt_writer *w, int64_t *samples)
{
	qt_batch *b;
	int64_t nb = 0;
	int rc;
	*samples = 0;
	while ((rc = next(src, &b)) > 0) {
		rc = qt_norm_apply_batch(n, field, b, ++nb, *samples);
		if (rc == 0)
			rc = qt_writer_write(w, b);
		*samples += b->n;
		qt_batch_free(b);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static void report_fit(const qt_norm *n, const char *path, int64_t samples)
{
	char what[160] = "";
	if (n->nchan == 1)
		snprintf(what, sizeof what, ": min %g, max %g, mean %g, std %g",
			 n->min[0], n->max[0], n->mean[0], n->std[0]);
	qt_cli_note("fitted %s on field '%s' (%lld samples, %lld %s%s)%s; "
		    "wrote %s (sha256 %.16s...)", qt_norm_method_name(n->method),
		    n->field, (long long)samples, (long long)n->nchan,
		    n->nchan == 1 ? "channel" : "channels",
		    n->per_channel ? "" : ", global", what, path, n->sha256);
}

static void warn_constant(const qt_norm *n)
{
	char where[48] = "";
	for (int64_t c = 0; c < n->nchan; c++) {
		if (!qt_norm_is_constant(n, c))
			continue;
		if (n->per_channel)
			snprintf(where, sizeof where, " channel %lld",
				 (long long)c);
		qt_cli_note("warning: field '%s'%s is constant (%g); it maps to "
			    "0 (--allow-constant)", n->field, where, n->min[c]);
	}
}

/* --fit: one pass to fit (spooling the batches when there is an output),
 * then replay the input normalised.  The parameter file is committed only
 * when everything before the final close of the stream succeeded, so bad
 * input never leaves one behind. */
static int run_fit(const struct opts *o)
{
	qt_reader *rd = NULL;
	qt_spool *sp = NULL;
	qt_norm_fitter *fit = NULL;
	qt_norm *n = NULL;
	qt_header *oh = NULL;
	qt_writer *w = NULL;
	qt_h5_out params = {.file = -1};
	qt_batch *b;
	char *prov = NULL;
	int64_t samples = 0, written;
	int rc, ncons, field;

	if ((rc = qt_reader_open(&rd, o->input)) < 0 ||
	    (rc = qt_norm_fit_begin(&fit, qt_reader_header(rd), o->field,
				    o->method, o->per_channel)) < 0)
		goto out;
	if (!o->no_output &&
	    (rc = qt_spool_open(&sp, o->input, qt_reader_header(rd))) < 0)
		goto out;
	while ((rc = qt_reader_next(rd, &b)) > 0) {
		rc = qt_norm_fit_add(fit, b);
		if (rc == 0 && sp)
			rc = qt_spool_add(sp, b);
		samples += b->n;
		qt_batch_free(b);
		if (rc < 0)
			break;
	}
	if (rc < 0 ||
	    (rc = qt_norm_fit_end(fit, o->allow_constant, &n, &ncons)) < 0)
		goto out;
	if (!(prov = qt_prov_to_json(qt_reader_header(rd)))) {
		rc = QT_ENOMEM;
		goto out;
	}
	if ((rc = qt_h5_create(&params, o->fit)) < 0 ||
	    (rc = qt_norm_write(n, &params, prov)) < 0)
		goto out;
	if (sp) {
		field = qt_header_find(qt_reader_header(rd), n->field);
		if ((rc = output_header(&oh, qt_reader_header(rd), n, field,
					o->fit)) < 0 ||
		    (rc = qt_spool_rewind(sp)) < 0 ||
		    (rc = qt_writer_open(&w, o->output, oh)) < 0 ||
		    (rc = normalise_all(n, field, spool_next, sp, w,
					&written)) < 0)
			goto out;
	}
	/* The parameters exist before the end of the stream that names
	 * them. */
	if ((rc = qt_h5_finish(&params, 1)) < 0)
		goto out;
	if (w) {
		rc = qt_writer_close(w);
		w = NULL;
	}
	if (rc == 0 && ncons)
		warn_constant(n);
	if (rc == 0 && !o->quiet)
		report_fit(n, o->fit, samples);
out:
	qt_h5_finish(&params, 0);
	qt_writer_abort(w);
	qt_header_free(oh);
	qt_spool_close(sp);
	qt_norm_fitter_free(fit);
	qt_norm_free(n);
	qt_reader_close(rd);
	free(prov);
	return rc;
}

/* --apply: check the layout, then normalise batch by batch. */
static int run_apply(const struct opts *o)
{
	qt_reader *rd = NULL;
	qt_norm *n = NULL;
	qt_header *oh = NULL;
	qt_writer *w = NULL;
	int64_t samples = 0;
	int rc, field;

	if ((rc = qt_norm_load(&n, o->apply)) < 0)
		goto out;
	if (o->field && strcmp(o->field, n->field)) {
		rc = qt_error(QT_EUSAGE, "--field %s: the parameters in %s were "
			      "fitted on field '%s'", o->field, o->apply,
			      n->field);
		goto out;
	}
	if ((rc = qt_reader_open(&rd, o->input)) < 0 ||
	    (rc = field = qt_norm_check(n, qt_reader_header(rd), o->apply)) < 0 ||
	    (rc = output_header(&oh, qt_reader_header(rd), n, field,
				o->apply)) < 0 ||
	    (rc = qt_writer_open(&w, o->output, oh)) < 0 ||
	    (rc = normalise_all(n, field, reader_next, rd, w, &samples)) < 0)
		goto out;
	rc = qt_writer_close(w);
	w = NULL;
	if (rc == 0 && !o->quiet)
		qt_cli_note("normalised field '%s' of %lld samples with %s "
			    "(%s, sha256 %.16s...)", n->field, (long long)samples,
			    o->apply, qt_norm_method_name(n->method), n->sha256);
out:
	qt_writer_abort(w);
	qt_header_free(oh);
	qt_norm_free(n);
	qt_reader_close(rd);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, 0, 'i'},
		{"output", required_argument, 0, 'o'},
		{"fit", required_argument, 0, 'F'},
		{"apply", required_argument, 0, 'A'},
		{"field", required_argument, 0, 'f'},
		{"method", required_argument, 0, 'm'},
		{"per-channel", no_argument, 0, 'C'},
		{"allow-constant", no_argument, 0, 'K'},
		{"no-output", no_argument, 0, 'N'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	struct opts o = {.input = "-", .output = "-", .method = QT_NORM_STANDARD};
	int c, rc;

	qt_cli_init("normalise", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVi:o:f:m:q", opts, NULL)) != -1) {
		switch (c) {
		case 'i': o.input = optarg; break;
		case 'o': o.output = optarg; o.output_given = 1; break;
		case 'F': o.fit = optarg; break;
		case 'A': o.apply = optarg; break;
		case 'f': o.field = optarg; break;
		case 'm': o.method_s = optarg; break;
		case 'C': o.per_channel = 1; break;
		case 'K': o.allow_constant = 1; break;
		case 'N': o.no_output = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': return qt_cli_help(help);
		case 'V': return qt_cli_version();
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	if (!o.fit == !o.apply)
		return qt_cli_usage("give one of --fit FILE (compute parameters) "
				    "and --apply FILE (use them)");
	if (o.apply && (o.method_s || o.per_channel || o.allow_constant))
		return qt_cli_usage("--method, --per-channel and --allow-constant "
				    "belong to --fit; --apply takes them from "
				    "the parameter file");
	if (o.apply && o.no_output)
		return qt_cli_usage("--no-output belongs to --fit");
	if (o.no_output && o.output_given)
		return qt_cli_usage("--no-output and --output exclude each other");
	if (o.fit && !o.field)
		return qt_cli_usage("--fit needs the field to fit: --field NAME");
	if (o.method_s && (rc = qt_norm_parse_method(o.method_s, &o.method)) < 0)
		return qt_cli_usage("%s", qt_error_message(rc));
	if (o.fit && o.output_given && !strcmp(o.fit, o.output))
		return qt_cli_usage("--fit and --output both name '%s'", o.fit);

	rc = o.fit ? run_fit(&o) : run_apply(&o);
	return qt_cli_finish(rc);
}
