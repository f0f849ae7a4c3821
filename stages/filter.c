/* filter.c: quanta-filter, keep the samples that pass every test.
 *
 * Tests: a scalar field within a range (--min/--max inclusive, --gt/--lt
 * strict; NaN is in no range), a label in a set of classes (--classes by
 * name through the header's class list, --class-index by number; labels as
 * common/label.h reads them), and finite values (--finite: no NaN or Inf
 * anywhere in the sample's field, ragged rows included).  Kept samples
 * leave in their input order and batches (qt_batch_take); a batch that
 * loses every sample is not written.  docs/stages/filter.md is the manual.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/label.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta filter [OPTIONS]\n"
	"Keep the samples of a stream that pass every test given.\n"
	"\n"
	"  -i, --input ENDPOINT    stream to read (default '-': stdin)\n"
	"  -o, --output ENDPOINT   stream to write (default '-': stdout)\n"
	"  -f, --field NAME        the field --min/--max/--gt/--lt and --classes test\n"
	"      --min X             keep samples whose FIELD is >= X\n"
	"      --max X             keep samples whose FIELD is <= X\n"
	"      --gt X              keep samples whose FIELD is > X\n"
	"      --lt X              keep samples whose FIELD is < X\n"
	"  -c, --classes A,B,...   keep samples whose label is one of these class\n"
	"                          names (FIELD, or the one field with class names)\n"
	"      --class-index I,J   the same by class number\n"
	"      --finite F1,F2,...  drop samples with NaN or Inf in these fields\n"
	"  -q, --quiet             do not report kept/dropped counts on stderr\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"A range needs a field with one value per sample; NaN lies in no range.\n"
	"To test two fields, chain two filters.\n"
	"\n"
	"Examples:\n"
	"  quanta filter --field xHI --min 0.01 --max 0.99 -i eor.qs -o kept.qs\n"
	"  quanta simulate jets -n 1000 | quanta filter --classes g,q | quanta inspect\n";

/* What a sample must pass. */
struct tests {
	int field;             /* range / class field, -1 when none */
	int range;             /* 1: test lo/hi */
	double lo, hi;
	int lo_strict, hi_strict;
	int classes;           /* 1: test the label */
	int label_kind;
	int64_t *keep_labels;  /* the accepted labels */
	int nkeep;
	int finite[QT_MAX_FIELDS];
	int nfinite;
};

/* Counts of samples dropped by each test (the first that failed). */
struct tally {
	int64_t seen, kept, not_finite, out_of_range, other_class;
};

static int sample_finite(const qt_batch *b, int f, int64_t s)
{
	const qt_tensor *t = b->t[f];
	int64_t a, e, per = qt_shape_numel(t->ndim - 1, t->shape + 1);
	if (!qt_dtype_is_float(t->dtype))
		return 1;
	qt_batch_rows(b, f, s, &a, &e);
	for (int64_t k = a * per; k < e * per; k++)
		if (!isfinite(qt_tensor_get(t, k)))
			return 0;
	return 1;
}

/* Indices of the samples of b that pass; returns their count or an
 * error (a label that is no class index). */
static int64_t select_samples(const struct tests *ts, const qt_header *h,
			      const qt_batch *b, int64_t *idx,
			      struct tally *tl)
{
	int64_t k = 0;
	for (int64_t s = 0; s < b->n; s++) {
		int ok = 1;
		for (int j = 0; ok && j < ts->nfinite; j++)
			ok = sample_finite(b, ts->finite[j], s);
		if (!ok) {
			tl->not_finite++;
			continue;
		}
		if (ts->range) {
			double v = qt_tensor_get(b->t[ts->field], s);
			ok = ts->lo_strict ? v > ts->lo : v >= ts->lo;
			ok = ok && (ts->hi_strict ? v < ts->hi : v <= ts->hi);
			if (!ok) {
				tl->out_of_range++;
				continue;
			}
		}
		if (ts->classes) {
			int64_t lab;
			int rc = qt_label_get(&h->fields[ts->field],
					      ts->label_kind, b->t[ts->field], s,
					      &lab);
			if (rc < 0)
				return rc;
			ok = 0;
			for (int j = 0; !ok && j < ts->nkeep; j++)
				ok = ts->keep_labels[j] == lab;
			if (!ok) {
				tl->other_class++;
				continue;
			}
		}
		idx[k++] = s;
	}
	tl->seen += b->n;
	tl->kept += k;
	return k;
}

/* Options as given, checked against the header by resolve(). */
struct spec {
	const char *field, *classes, *class_index, *finite;
	const char *min, *max, *gt, *lt;
};

static int parse_bound(const char *s, const char *opt, double *v)
{
	int rc = qt_parse_double(s, opt, -HUGE_VAL, HUGE_VAL, v);
	return rc < 0 ? rc : 0;
}

/* The accepted labels from class names and/or numbers. */
static int resolve_classes(struct tests *ts, const qt_field *f,
			   const struct spec *sp)
{
	char **items = NULL;
	int n = 0, rc = 0;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		const char *list = pass ? sp->class_index : sp->classes;
		const char *opt = pass ? "--class-index" : "--classes";
		if (!list)
			continue;
		if ((rc = qt_parse_list(list, opt, &items, &n)) < 0)
			break;
		int64_t *nk = realloc(ts->keep_labels, (size_t)(ts->nkeep + n) *
				      sizeof *nk);
		if (!nk) {
			rc = qt_error(QT_ENOMEM, "out of memory");
		} else {
			ts->keep_labels = nk;
		}
		for (int i = 0; i < n && rc == 0; i++) {
			long long v = -1;
			if (pass) {
				rc = qt_parse_int(items[i], opt, 0,
						  f->nclasses ? f->nclasses - 1 :
						  INT64_MAX, &v);
			} else {
				for (int c = 0; c < f->nclasses && v < 0; c++)
					if (!strcmp(f->classes[c], items[i]))
						v = c;
				if (v < 0)
					rc = qt_error(QT_EUSAGE, "--classes: '%s' "
						      "is not a class of field "
						      "'%s' (see quanta inspect "
						      "--header)", items[i],
						      f->name);
			}
			if (rc == 0)
				ts->keep_labels[ts->nkeep++] = v;
		}
		qt_free_list(items, n);
	}
	return rc;
}

/* Check the options against the stream and fill ts. */
static int resolve(struct tests *ts, const qt_header *h,
		   const struct spec *sp)
{
	int rc;
	ts->field = -1;
	if (sp->field && (ts->field = qt_field_require(h, sp->field,
						       "--field")) < 0)
		return ts->field;
	if (sp->min || sp->max || sp->gt || sp->lt) {
		const qt_field *f = &h->fields[ts->field];
		char s[96];
		if (qt_field_numel(f) != 1)
			return qt_error(QT_EUSAGE, "--field %s: per-sample shape "
					"%s is not one value; a range needs a "
					"scalar field", f->name,
					qt_shape_str(s, sizeof s, f->ndim, f->shape));
		ts->range = 1;
		ts->lo = -HUGE_VAL;
		ts->hi = HUGE_VAL;
		if ((sp->min && (rc = parse_bound(sp->min, "--min", &ts->lo)) < 0) ||
		    (sp->gt && (rc = parse_bound(sp->gt, "--gt", &ts->lo)) < 0) ||
		    (sp->max && (rc = parse_bound(sp->max, "--max", &ts->hi)) < 0) ||
		    (sp->lt && (rc = parse_bound(sp->lt, "--lt", &ts->hi)) < 0))
			return rc;
		ts->lo_strict = sp->gt != NULL;
		ts->hi_strict = sp->lt != NULL;
		if (ts->lo > ts->hi || (ts->lo == ts->hi &&
					(ts->lo_strict || ts->hi_strict)))
			return qt_error(QT_EUSAGE, "the range keeps nothing: "
					"its lower bound is above its upper");
	}
	if (sp->classes || sp->class_index) {
		if (ts->field < 0) {
			for (int i = 0; i < h->nfields; i++)
				if (h->fields[i].nclasses) {
					if (ts->field >= 0)
						return qt_error(QT_EUSAGE, "fields "
								"'%s' and '%s' both "
								"have class names; "
								"pick one with "
								"--field",
								h->fields[ts->field].name,
								h->fields[i].name);
					ts->field = i;
				}
			if (ts->field < 0)
				return qt_error(QT_EUSAGE, "no field of the stream "
						"has class names; name the label "
						"field with --field");
		}
		if (sp->classes && !h->fields[ts->field].nclasses)
			return qt_error(QT_EUSAGE, "field '%s' has no class "
					"names; use --class-index",
					h->fields[ts->field].name);
		if ((ts->label_kind = qt_label_kind(&h->fields[ts->field])) < 0)
			return ts->label_kind;
		ts->classes = 1;
		if ((rc = resolve_classes(ts, &h->fields[ts->field], sp)) < 0)
			return rc;
	}
	if (sp->finite) {
		char **items;
		int n;
		if ((rc = qt_parse_list(sp->finite, "--finite", &items, &n)) < 0)
			return rc;
		for (int i = 0; i < n && rc >= 0; i++) {
			rc = qt_field_require(h, items[i], "--finite");
			if (rc >= 0 && ts->nfinite < QT_MAX_FIELDS)
				ts->finite[ts->nfinite++] = rc;
		}
		qt_free_list(items, n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void report(const struct tally *t)
{
	char why[256];
	int n = 0;
	why[0] = '\0';
	if (t->out_of_range)
		n += snprintf(why + n, sizeof why - (size_t)n, ", %lld out of "
			      "range", (long long)t->out_of_range);
	if (t->other_class)
		n += snprintf(why + n, sizeof why - (size_t)n, ", %lld of other "
			      "classes", (long long)t->other_class);
	if (t->not_finite)
		snprintf(why + n, sizeof why - (size_t)n, ", %lld not finite",
			 (long long)t->not_finite);
	qt_cli_note("kept %lld of %lld samples (%lld dropped%s)",
		    (long long)t->kept, (long long)t->seen,
		    (long long)(t->seen - t->kept), why);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, 0, 'i'},
		{"output", required_argument, 0, 'o'},
		{"field", required_argument, 0, 'f'},
		{"min", required_argument, 0, 'm'},
		{"max", required_argument, 0, 'M'},
		{"gt", required_argument, 0, 'g'},
		{"lt", required_argument, 0, 'l'},
		{"classes", required_argument, 0, 'c'},
		{"class-index", required_argument, 0, 'C'},
		{"finite", required_argument, 0, 'F'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	const char *input = "-", *output = "-";
	struct spec sp = {0};
	struct tests ts = {0};
	struct tally tl = {0};
	int quiet = 0, c, rc = 0;
	qt_reader *rd = NULL;
	qt_writer *w = NULL;
	qt_header *oh = NULL;
	qt_batch *b = NULL, *kept;
	int64_t *idx = NULL;
	double v;

	qt_cli_init("filter", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVi:o:f:c:q", opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'o': output = optarg; break;
		case 'f': sp.field = optarg; break;
		case 'm': sp.min = optarg; break;
		case 'M': sp.max = optarg; break;
		case 'g': sp.gt = optarg; break;
		case 'l': sp.lt = optarg; break;
		case 'c': sp.classes = optarg; break;
		case 'C': sp.class_index = optarg; break;
		case 'F': sp.finite = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': return qt_cli_help(help);
		case 'V': return qt_cli_version();
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	if ((sp.min && sp.gt) || (sp.max && sp.lt))
		return qt_cli_usage("give one lower bound (--min or --gt) and one "
				    "upper bound (--max or --lt)");
	if ((sp.min || sp.max || sp.gt || sp.lt) && !sp.field)
		return qt_cli_usage("a range needs --field NAME");
	/* Numbers are checked before any input is read. */
	if ((sp.min && (rc = parse_bound(sp.min, "--min", &v)) < 0) ||
	    (sp.max && (rc = parse_bound(sp.max, "--max", &v)) < 0) ||
	    (sp.gt && (rc = parse_bound(sp.gt, "--gt", &v)) < 0) ||
	    (sp.lt && (rc = parse_bound(sp.lt, "--lt", &v)) < 0))
		return qt_cli_usage("%s", qt_error_message(rc));
	if (!sp.min && !sp.max && !sp.gt && !sp.lt && !sp.classes &&
	    !sp.class_index && !sp.finite)
		return qt_cli_usage("nothing to test: give a range (--min, --max, "
				    "--gt, --lt), --classes, --class-index or "
				    "--finite");

	if ((rc = qt_reader_open(&rd, input)) < 0)
		goto out;
	if ((rc = resolve(&ts, qt_reader_header(rd), &sp)) < 0)
		goto out;
	if (!(oh = qt_header_clone(qt_reader_header(rd)))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = qt_cli_provenance(oh)) < 0 ||
	    (rc = qt_writer_open(&w, output, oh)) < 0)
		goto out;
	while ((rc = qt_reader_next(rd, &b)) > 0) {
		int64_t *ni = realloc(idx, (size_t)(b->n ? b->n : 1) * sizeof *ni);
		int64_t k;
		if (!ni) {
			rc = qt_error(QT_ENOMEM, "out of memory");
			break;
		}
		idx = ni;
		if ((k = select_samples(&ts, oh, b, idx, &tl)) < 0) {
			rc = (int)k;
			break;
		}
		if (k == b->n && k > 0) {
			rc = qt_writer_write(w, b);
		} else if (k > 0) {
			if (!(kept = qt_batch_take(oh, b, idx, k)))
				rc = QT_ENOMEM;
			else
				rc = qt_writer_write(w, kept);
			qt_batch_free(kept);
		}
		qt_batch_free(b);
		b = NULL;
		if (rc < 0)
			break;
	}
	if (rc == 0) {
		rc = qt_writer_close(w);
		w = NULL;
		if (rc == 0 && !quiet)
			report(&tl);
	}
out:
	qt_batch_free(b);
	qt_writer_abort(w);
	qt_reader_close(rd);
	qt_header_free(oh);
	free(idx);
	free(ts.keep_labels);
	return qt_cli_finish(rc);
}
