/* balance.c: quanta-balance, the same number of samples in every bin.
 *
 * Bins are equal-width bins of a scalar field (--field, e.g. xHI) or the
 * classes of a label field (--class); with --by they are counted within
 * each group of samples that share a value of another scalar field (e.g.
 * the redshift).  Down-sampling keeps a random subset of every bin as
 * large as its group's smallest bin; up-sampling adds random copies (with
 * replacement) up to the largest.  --min-count K treats bins with fewer
 * than K samples as empty; --count N sets the target per bin to N.
 * common/balancer.h makes the plan.
 *
 * Two passes: the first reads the stream and keeps 16 bytes per sample
 * (its group, its key, later its number of copies) while
 * common/spool.h keeps the batches for the second: a file input is read
 * again, any other input is copied to an unlinked temporary file.  The
 * second pass writes the selected samples in their input order, the
 * copies of a sample right after it, in batches no larger than the input
 * ones.  Memory: one batch plus at most 28 bytes per input sample.
 * docs/stages/balance.md is the manual.
 */
#include "common/balancer.h"
#include "common/cli.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/label.h"
#include "common/spool.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta balance --field NAME [--bins N] [--range LO,HI] [OPTIONS]\n"
	"       quanta balance --class NAME [OPTIONS]\n"
	"Give every bin of a field (or every class) the same number of samples,\n"
	"within each group of samples that share a value of --by.\n"
	"\n"
	"  -i, --input ENDPOINT   stream to read (default '-': stdin)\n"
	"  -o, --output ENDPOINT  stream to write (default '-': stdout)\n"
	"  -f, --field NAME       a scalar field to bin into equal-width bins\n"
	"  -b, --bins N           number of bins (default 10)\n"
	"      --range LO,HI      the binned range (default: the data's min, max);\n"
	"                         samples outside it are dropped\n"
	"  -c, --class NAME       balance the classes of this label field instead\n"
	"      --by NAME          balance within each value of this scalar field\n"
	"  -m, --mode down|up     down: keep as many samples per bin as the\n"
	"                         smallest bin has (default); up: copy samples\n"
	"                         (with replacement) up to the largest bin\n"
	"      --allow-empty      balance the non-empty bins of a group and leave\n"
	"                         its empty bins empty, instead of failing\n"
	"      --min-count K      bins with fewer than K samples count as empty\n"
	"                         (default 1): an error, or with --allow-empty\n"
	"                         dropped, never setting the target\n"
	"      --count N          N samples per bin instead of the smallest (or\n"
	"                         largest) bin's: fuller bins are down-sampled to\n"
	"                         N; smaller ones are kept whole, or with --mode up\n"
	"                         topped up with copies to N\n"
	"      --seed S           seed of the random choice (default 0)\n"
	"  -q, --quiet            do not print the table of counts on stderr\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"Bins are numpy.histogram's: [a, b) each, the last one [a, HI].  Samples\n"
	"leave in their input order; up-sampled copies follow their original.\n"
	"A file input is read twice; a pipe is copied to a temporary file in\n"
	"$TMPDIR.  The same input and seed give the same output.\n"
	"\n"
	"Examples:\n"
	"  quanta balance --field xHI --bins 10 --range 0,1 --by redshift \\\n"
	"      -i eor.qs -o balanced.qs\n"
	"  quanta balance --field xHI --bins 10 --range 0,1 --by redshift \\\n"
	"      --allow-empty --min-count 10 --count 30 -i eor.qs -o balanced.qs\n"
	"  quanta simulate jets -n 5000 | quanta balance --class labels --mode up \\\n"
	"      --seed 3 | quanta inspect\n";

struct opts {
	const char *input, *output, *field, *class_field, *by;
	long long bins, seed, min_count, count;
	int have_range, bins_given, allow_empty, quiet, mode;
	double lo, hi;
};

struct fields {
	int key, by, label_kind;
};

static int parse_range(const char *s, double *lo, double *hi)
{
	char **items;
	int n, rc;
	if ((rc = qt_parse_list(s, "--range", &items, &n)) < 0)
		return rc;
	if (n != 2)
		rc = qt_error(QT_EUSAGE, "--range: give two numbers LO,HI");
	if (rc == 0 &&
	    ((rc = qt_parse_double(items[0], "--range", -HUGE_VAL, HUGE_VAL,
				   lo)) < 0 ||
	     (rc = qt_parse_double(items[1], "--range", -HUGE_VAL, HUGE_VAL,
				   hi)) < 0))
		rc = QT_EUSAGE;
	if (rc == 0 && !(*lo < *hi && isfinite(*lo) && isfinite(*hi)))
		rc = qt_error(QT_EUSAGE, "--range: LO must be below HI, both "
			      "finite");
	qt_free_list(items, n);
	return rc;
}

static int scalar_field(const qt_header *h, const char *name,
			const char *opt)
{
	char s[96];
	int f = qt_field_require(h, name, opt);
	if (f >= 0 && qt_field_numel(&h->fields[f]) != 1)
		return qt_error(QT_EUSAGE, "%s %s: per-sample shape %s is not one "
				"value per sample", opt, name,
				qt_shape_str(s, sizeof s, h->fields[f].ndim,
					     h->fields[f].shape));
	return f;
}

/* Resolve the fields and fill the balancer's options. */
static int resolve(const struct opts *o, const qt_header *h,
		   struct fields *fl, qt_balance_opts *bo)
{
	memset(bo, 0, sizeof *bo);
	fl->by = -1;
	if (o->class_field) {
		if ((fl->key = qt_field_require(h, o->class_field,
						"--class")) < 0)
			return fl->key;
		if ((fl->label_kind = qt_label_kind(&h->fields[fl->key])) < 0)
			return qt_error_prefix(fl->label_kind, "--class: ");
		bo->classes = 1;
		bo->nclasses = h->fields[fl->key].nclasses;
		bo->key_classes = h->fields[fl->key].classes;
		bo->key_name = o->class_field;
	} else {
		if ((fl->key = scalar_field(h, o->field, "--field")) < 0)
			return fl->key;
		bo->nbins = (int)o->bins;
		bo->have_range = o->have_range;
		bo->lo = o->lo;
		bo->hi = o->hi;
		bo->key_name = o->field;
	}
	if (o->by) {
		if ((fl->by = scalar_field(h, o->by, "--by")) < 0)
			return fl->by;
		bo->group_name = o->by;
		bo->group_classes = h->fields[fl->by].classes;
		bo->ngroup_classes = h->fields[fl->by].nclasses;
	}
	bo->mode = o->mode;
	bo->allow_empty = o->allow_empty;
	bo->min_count = o->min_count;
	bo->count = o->count;
	bo->seed = (uint64_t)o->seed;
	return 0;
}

/* First pass: every sample's (group, key) into the balancer. */
static int add_batch(qt_balancer *bal, const struct fields *fl,
		     const qt_header *h, const qt_batch *b, int64_t nb)
{
	for (int64_t s = 0; s < b->n; s++) {
		double key, group = 0;
		int rc = 0;
		if (fl->label_kind) {
			int64_t lab;
			rc = qt_label_get(&h->fields[fl->key], fl->label_kind,
					  b->t[fl->key], s, &lab);
			key = (double)lab;
		} else {
			key = qt_tensor_get(b->t[fl->key], s);
		}
		if (fl->by >= 0)
			group = qt_tensor_get(b->t[fl->by], s);
		if (rc == 0)
			rc = qt_balancer_add(bal, group, key);
		if (rc < 0)
			return qt_error_prefix(rc, "batch %lld, sample %lld: ",
					       (long long)nb, (long long)s);
	}
	return 0;
}

/* Write samples idx[0..k-1] of b: b itself when that is all of it. */
static int write_take(qt_writer *w, const qt_header *h, const qt_batch *b,
		      const int64_t *idx, int64_t k)
{
	int64_t i = 0;
	qt_batch *t;
	int rc;
	while (i < k && k == b->n && idx[i] == i)
		i++;
	if (i == b->n)
		return qt_writer_write(w, b);
	if (!(t = qt_batch_take(h, b, idx, k)))
		return QT_ENOMEM;
	rc = qt_writer_write(w, t);
	qt_batch_free(t);
	return rc;
}

/* Second pass: each sample as many times as planned, copies adjacent, in
 * batches of at most the input batch's size. */
static int write_selected(const qt_balancer *bal, const qt_header *h,
			  qt_spool *sp, qt_writer *w)
{
	qt_batch *b;
	int64_t *idx = NULL, cap = 0, sample = 0;
	int rc;
	while ((rc = qt_spool_next(sp, &b)) > 0) {
		int64_t max = b->n > 0 ? b->n : 1, k = 0;
		if (max > cap) {
			int64_t *ni = realloc(idx, (size_t)max * sizeof *ni);
			if (!ni) {
				qt_batch_free(b);
				rc = qt_error(QT_ENOMEM, "out of memory");
				break;
			}
			idx = ni;
			cap = max;
		}
		for (int64_t s = 0; s < b->n && rc >= 0; s++) {
			uint32_t copies = qt_balancer_copies(bal, sample + s);
			for (uint32_t j = 0; j < copies && rc >= 0; j++) {
				idx[k++] = s;
				if (k == max) {
					rc = write_take(w, h, b, idx, k);
					k = 0;
				}
			}
		}
		if (rc >= 0 && k > 0)
			rc = write_take(w, h, b, idx, k);
		sample += b->n;
		qt_batch_free(b);
		if (rc < 0)
			break;
	}
	free(idx);
	return rc;
}

static int output_header(qt_header **out, const qt_header *in,
			 const struct opts *o, const qt_balancer *bal)
{
	qt_header *h = qt_header_clone(in);
	char v[128];
	int rc, step;
	*out = NULL;
	if (!h)
		return qt_error(QT_ENOMEM, "out of memory");
	step = rc = qt_cli_provenance(h);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, o->class_field ? "balance.class"
					 : "balance.field", o->class_field ?
					 o->class_field : o->field);
	if (rc >= 0 && o->by)
		rc = qt_header_add_param(h, step, "balance.by", o->by);
	if (rc >= 0 && !o->class_field) {
		double lo, hi;
		qt_balancer_range(bal, &lo, &hi);
		snprintf(v, sizeof v, "%d", qt_balancer_nbins(bal));
		rc = qt_header_add_param(h, step, "balance.bins", v);
		snprintf(v, sizeof v, "%.17g,%.17g", lo, hi);
		if (rc >= 0)
			rc = qt_header_add_param(h, step, "balance.range", v);
	}
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "balance.mode",
					 o->mode == QT_BALANCE_UP ? "up" : "down");
	snprintf(v, sizeof v, "%lld", o->min_count);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "balance.min_count", v);
	snprintf(v, sizeof v, "%lld", o->count);
	if (rc >= 0 && o->count)
		rc = qt_header_add_param(h, step, "balance.count", v);
	snprintf(v, sizeof v, "%lld", o->seed);
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "balance.seed", v);
	snprintf(v, sizeof v, "%lld", (long long)qt_balancer_samples(bal));
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "balance.samples_in", v);
	snprintf(v, sizeof v, "%lld", (long long)qt_balancer_kept(bal));
	if (rc >= 0)
		rc = qt_header_add_param(h, step, "balance.samples_out", v);
	if (rc < 0) {
		qt_header_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* Bins and samples of every group that --min-count dropped or that stay
 * below --count. */
struct tally {
	int sparse_bins, short_bins;
	int64_t sparse_samples;
};

static struct tally count_cells(const qt_balancer *bal)
{
	struct tally t = {0};
	int G = qt_balancer_ngroups(bal), K = qt_balancer_nbins(bal);
	for (int g = 0; g < G; g++)
		for (int k = 0; k < K; k++)
			switch (qt_balancer_cell(bal, g, k)) {
			case QT_CELL_SPARSE:
				t.sparse_bins++;
				t.sparse_samples += qt_balancer_count(bal, g, k, 0);
				break;
			case QT_CELL_SHORT:
				t.short_bins++;
				break;
			}
	return t;
}

static const char *mode_verb(const struct opts *o)
{
	if (o->mode == QT_BALANCE_UP)
		return o->count ? "resampled" : "up-sampled";
	return "down-sampled";
}

/* The first lines: what was balanced, and what was dropped and why. */
static void report_summary(const struct opts *o, const qt_balancer *bal)
{
	int K = qt_balancer_nbins(bal);
	struct tally t = count_cells(bal);
	char per[64] = "";
	double lo, hi;

	qt_balancer_range(bal, &lo, &hi);
	if (o->count)
		snprintf(per, sizeof per, " (%lld per bin)", o->count);
	if (o->class_field)
		qt_cli_note("%s %lld samples to %lld%s: classes of '%s'%s%s",
			    mode_verb(o), (long long)qt_balancer_samples(bal),
			    (long long)qt_balancer_kept(bal), per, o->class_field,
			    o->by ? ", by " : "", o->by ? o->by : "");
	else
		qt_cli_note("%s %lld samples to %lld%s: '%s' in %d bins of "
			    "width %g over [%g, %g]%s%s", mode_verb(o),
			    (long long)qt_balancer_samples(bal),
			    (long long)qt_balancer_kept(bal), per, o->field, K,
			    (hi - lo) / K, lo, hi, o->by ? ", by " : "",
			    o->by ? o->by : "");
	if (qt_balancer_out_of_range(bal))
		qt_cli_note("%lld samples outside [%g, %g] dropped",
			    (long long)qt_balancer_out_of_range(bal), lo, hi);
	if (t.sparse_bins)
		qt_cli_note("%lld sample%s dropped: %d bin%s with fewer than "
			    "--min-count %lld samples", (long long)t.sparse_samples,
			    t.sparse_samples == 1 ? "" : "s", t.sparse_bins,
			    t.sparse_bins == 1 ? "" : "s", o->min_count);
	if (t.short_bins)
		qt_cli_note("%d bin%s with fewer than --count %lld samples kept "
			    "whole (--mode up would copy them up to %lld)",
			    t.short_bins, t.short_bins == 1 ? "" : "s", o->count,
			    o->count);
}

/* "(2 empty; 1 under --min-count: 9 dropped; 1 short: kept whole)" for
 * group g. */
static void report_notes(const qt_balancer *bal, int g)
{
	int K = qt_balancer_nbins(bal), n[4] = {0}, any = 0;
	int64_t dropped = 0;
	for (int k = 0; k < K; k++) {
		int c = qt_balancer_cell(bal, g, k);
		n[c]++;
		if (c == QT_CELL_SPARSE)
			dropped += qt_balancer_count(bal, g, k, 0);
	}
	if (n[QT_CELL_EMPTY])
		fprintf(stderr, "%s%d empty", any++ ? ", " : " (",
			n[QT_CELL_EMPTY]);
	if (n[QT_CELL_SPARSE])
		fprintf(stderr, "%s%d under --min-count: %lld dropped",
			any++ ? "; " : " (", n[QT_CELL_SPARSE],
			(long long)dropped);
	if (n[QT_CELL_SHORT])
		fprintf(stderr, "%s%d short: kept whole", any++ ? "; " : " (",
			n[QT_CELL_SHORT]);
	if (any)
		fputc(')', stderr);
}

/* The counts per (group, bin) before, and the count per bin after. */
static void report(const struct opts *o, const qt_balancer *bal)
{
	int G = qt_balancer_ngroups(bal), K = qt_balancer_nbins(bal);
	int gw = o->by ? (int)strlen(o->by) : 3, cw = 1;
	char lab[96];

	report_summary(o, bal);
	if (G == 0)
		return;
	/* Column widths: the largest count or bin label. */
	for (int g = 0; g < G; g++) {
		int w = (int)strlen(qt_balancer_group_label(bal, g, lab,
							     sizeof lab));
		gw = w > gw ? w : gw;
		for (int k = 0; k < K; k++) {
			int n = snprintf(lab, sizeof lab, "%lld", (long long)
					 qt_balancer_count(bal, g, k, 0));
			cw = n > cw ? n : cw;
		}
	}
	for (int k = 0; k < K && o->class_field; k++) {
		int n = (int)strlen(qt_balancer_bin_label(bal, k, lab, sizeof lab));
		cw = n > cw ? n : cw;
	}
	fprintf(stderr, "  %-*s |", gw, o->by ? o->by : "bin");
	for (int k = 0; k < K; k++)
		if (o->class_field)
			fprintf(stderr, " %*s", cw, qt_balancer_bin_label(bal, k, lab,
									  sizeof lab));
		else
			fprintf(stderr, " %*d", cw, k);
	fprintf(stderr, " | after\n");
	for (int g = 0; g < G; g++) {
		fprintf(stderr, "  %-*s |", gw,
			o->by ? qt_balancer_group_label(bal, g, lab, sizeof lab)
			      : "all");
		for (int k = 0; k < K; k++)
			fprintf(stderr, " %*lld", cw,
				(long long)qt_balancer_count(bal, g, k, 0));
		fprintf(stderr, " | %lld per bin",
			(long long)qt_balancer_target(bal, g));
		report_notes(bal, g);
		fputc('\n', stderr);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, 0, 'i'},
		{"output", required_argument, 0, 'o'},
		{"field", required_argument, 0, 'f'},
		{"bins", required_argument, 0, 'b'},
		{"range", required_argument, 0, 'r'},
		{"class", required_argument, 0, 'c'},
		{"by", required_argument, 0, 'y'},
		{"mode", required_argument, 0, 'm'},
		{"allow-empty", no_argument, 0, 'E'},
		{"min-count", required_argument, 0, 'K'},
		{"count", required_argument, 0, 'N'},
		{"seed", required_argument, 0, 'S'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	struct opts o = {.input = "-", .output = "-", .bins = 10, .min_count = 1};
	const char *range = NULL, *mode = NULL, *bins = NULL, *seed = NULL;
	const char *min_count = NULL, *count = NULL;
	qt_reader *rd = NULL;
	qt_spool *sp = NULL;
	qt_balancer *bal = NULL;
	qt_header *oh = NULL;
	qt_writer *w = NULL;
	qt_batch *b;
	qt_balance_opts bo;
	struct fields fl = {0};
	int64_t nb = 0;
	int c, rc = 0;

	qt_cli_init("balance", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVi:o:f:b:c:m:q", opts,
				NULL)) != -1) {
		switch (c) {
		case 'i': o.input = optarg; break;
		case 'o': o.output = optarg; break;
		case 'f': o.field = optarg; break;
		case 'b': bins = optarg; break;
		case 'r': range = optarg; break;
		case 'c': o.class_field = optarg; break;
		case 'y': o.by = optarg; break;
		case 'm': mode = optarg; break;
		case 'E': o.allow_empty = 1; break;
		case 'K': min_count = optarg; break;
		case 'N': count = optarg; break;
		case 'S': seed = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'h': return qt_cli_help(help);
		case 'V': return qt_cli_version();
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	if (!o.field == !o.class_field)
		return qt_cli_usage("give one of --field NAME (bins of a value) and "
				    "--class NAME (classes of a label)");
	if (o.class_field && (bins || range))
		return qt_cli_usage("--bins and --range belong to --field; classes "
				    "are their own bins");
	if ((bins && (rc = qt_parse_int(bins, "--bins", 1, 1000000,
					&o.bins)) < 0) ||
	    (seed && (rc = qt_parse_int(seed, "--seed", 0, INT64_MAX,
					&o.seed)) < 0) ||
	    (min_count && (rc = qt_parse_int(min_count, "--min-count", 1,
					     INT32_MAX, &o.min_count)) < 0) ||
	    (count && (rc = qt_parse_int(count, "--count", 1, INT32_MAX,
					 &o.count)) < 0) ||
	    (range && (rc = parse_range(range, &o.lo, &o.hi)) < 0))
		return qt_cli_usage("%s", qt_error_message(rc));
	o.have_range = range != NULL;
	if (!mode || !strcmp(mode, "down"))
		o.mode = QT_BALANCE_DOWN;
	else if (!strcmp(mode, "up"))
		o.mode = QT_BALANCE_UP;
	else
		return qt_cli_usage("--mode: '%s' is neither 'down' nor 'up'", mode);

	if ((rc = qt_reader_open(&rd, o.input)) < 0 ||
	    (rc = resolve(&o, qt_reader_header(rd), &fl, &bo)) < 0 ||
	    (rc = qt_balancer_new(&bal, &bo)) < 0 ||
	    (rc = qt_spool_open(&sp, o.input, qt_reader_header(rd))) < 0)
		goto out;
	while ((rc = qt_reader_next(rd, &b)) > 0) {
		rc = add_batch(bal, &fl, qt_reader_header(rd), b, ++nb);
		if (rc == 0)
			rc = qt_spool_add(sp, b);
		qt_batch_free(b);
		if (rc < 0)
			break;
	}
	if (rc < 0 || (rc = qt_balancer_plan(bal)) < 0 ||
	    (rc = output_header(&oh, qt_reader_header(rd), &o, bal)) < 0 ||
	    (rc = qt_spool_rewind(sp)) < 0 ||
	    (rc = qt_writer_open(&w, o.output, oh)) < 0 ||
	    (rc = write_selected(bal, qt_reader_header(rd), sp, w)) < 0)
		goto out;
	rc = qt_writer_close(w);
	w = NULL;
	if (rc == 0 && !o.quiet)
		report(&o, bal);
out:
	qt_writer_abort(w);
	qt_header_free(oh);
	qt_spool_close(sp);
	qt_balancer_free(bal);
	qt_reader_close(rd);
	return qt_cli_finish(rc);
}
