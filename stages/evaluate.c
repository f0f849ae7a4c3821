/* evaluate.c: quanta evaluate: compare predictions with the truth.
 *
 * Integer truth: classification (accuracy, confusion matrix, per-class
 * precision/recall/F1, ROC AUC from probabilities); float truth:
 * regression (MSE, RMSE, MAE, R^2, Pearson r per output).  The metrics
 * themselves live in common/metrics.c; this file picks the fields, feeds
 * the batches and writes the table, the JSON and the stream.
 * Manual: docs/stages/evaluate.md.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/metrics.h"
#include "common/stream.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: quanta evaluate [OPTIONS]\n"
	"Compare predictions with the truth: accuracy, confusion matrix,\n"
	"precision/recall/F1 and ROC AUC for integer truth (classification);\n"
	"MSE, RMSE, MAE, R^2 and Pearson r for float truth (regression).\n"
	"Prints a table on stdout (on stderr when -o or --json is '-').\n"
	"\n"
	"  -i, --input IN      stream to read (default '-', stdin)\n"
	"  -t, --truth NAME    truth field (default 'labels')\n"
	"  -p, --pred NAME     predicted field (default 'pred'; for classes it may\n"
	"                      be left out when --prob is there: argmax)\n"
	"      --prob NAME     class probabilities (C,) for ROC AUC (default\n"
	"                      'prob' when the stream has it)\n"
	"      --no-auc        skip ROC AUC: no per-sample scores are kept, so\n"
	"                      memory stays constant however long the stream\n"
	"  -j, --json FILE     also write the metrics as JSON ('-': stdout)\n"
	"  -o, --output OUT    also write the metrics as a one-batch stream\n"
	"  -h, --help          this help\n"
	"  -V, --version       version\n"
	"\n"
	"Example:\n"
	"  quanta predict --model jets.h5 -i test.qs | quanta evaluate --json metrics.json\n"
	"  quanta plot-data confusion --metrics metrics.json -o confusion.png\n";

struct opts {
	const char *input, *truth, *pred, *prob, *json, *output;
	int pred_given, no_auc;
};

/* Field indices and the kind of evaluation. */
struct plan {
	int truth, pred, prob;   /* field indices, -1 when absent */
	int classify;            /* 1: classification, 0: regression */
	int nclasses, fixed, k;
	char **names;            /* borrowed from the header, or NULL */
};

static int is_integer(qt_dtype dt)
{
	return !qt_dtype_is_float(dt);
}

static int plan_classification(const qt_header *h, const struct opts *o,
			       struct plan *p)
{
	const qt_field *t = &h->fields[p->truth], *pf = NULL, *pr = NULL;
	if (p->pred >= 0) {
		pf = &h->fields[p->pred];
		if (!is_integer(pf->dtype))
			return qt_error(QT_ESHAPE, "field '%s' is %s: class "
					"predictions must be integers (give "
					"probabilities with --prob)", pf->name,
					qt_dtype_name(pf->dtype));
		if (!qt_field_same_shape(t, pf))
			return qt_error(QT_ESHAPE, "fields '%s' and '%s' have "
					"different shapes per sample", t->name,
					pf->name);
	}
	if (p->prob >= 0) {
		pr = &h->fields[p->prob];
		if (!qt_dtype_is_float(pr->dtype) || pr->ndim != t->ndim + 1 ||
		    pr->shape[t->ndim] < 2 ||
		    (t->ndim && pr->shape[0] != t->shape[0]) ||
		    memcmp(pr->shape, t->shape, sizeof(int64_t) * t->ndim))
			return qt_error(QT_ESHAPE, "field '%s' must hold float "
					"probabilities of at least two classes "
					"per truth label of '%s'", pr->name,
					t->name);
	}
	if (p->pred < 0 && p->prob < 0)
		return qt_error(QT_EUSAGE, "no field '%s' or '%s' in the "
				"stream to compare with '%s'; name the "
				"predictions with --pred or --prob", o->pred,
				o->prob ? o->prob : "prob", t->name);
	if (t->nclasses > 0) {
		p->nclasses = t->nclasses;
		p->names = t->classes;
	} else if (pf && pf->nclasses > 0) {
		p->nclasses = pf->nclasses;
		p->names = pf->classes;
	}
	if (pr) {
		int C = (int)pr->shape[t->ndim];
		if (p->nclasses && C != p->nclasses)
			return qt_error(QT_ESHAPE, "field '%s' has %d "
					"probabilities per sample but '%s' "
					"names %d classes", pr->name, C,
					p->names == t->classes ? t->name
							       : pf->name,
					p->nclasses);
		p->nclasses = C;
	}
	if (p->nclasses > QT_METRICS_MAX_CLASSES)
		return qt_error(QT_EFORMAT, "%d classes: at most %d are "
				"supported", p->nclasses,
				QT_METRICS_MAX_CLASSES);
	p->fixed = p->nclasses > 0;
	return 0;
}

static int plan_regression(const qt_header *h, struct plan *p)
{
	const qt_field *t = &h->fields[p->truth], *pf;
	int64_t kt = qt_field_numel(t), kp;
	if (p->pred < 0)
		return QT_EINTERNAL;
	pf = &h->fields[p->pred];
	kp = qt_field_numel(pf);
	if (t->ndim > 1 || kt < 1)
		return qt_error(QT_ESHAPE, "regression truth '%s' must be a "
				"scalar or a vector (k,) per sample", t->name);
	if (kp != kt || pf->ndim > 1)
		return qt_error(QT_ESHAPE, "field '%s' has %lld values per "
				"sample but '%s' has %lld", pf->name,
				(long long)kp, t->name, (long long)kt);
	if (kt > 1 << 20)
		return qt_error(QT_EFORMAT, "%lld outputs per sample: too many",
				(long long)kt);
	p->k = (int)kt;
	return 0;
}

static int make_plan(const qt_header *h, const struct opts *o, struct plan *p)
{
	int rc;
	p->pred = p->prob = -1;
	if ((rc = p->truth = qt_field_require(h, o->truth, "--truth")) < 0)
		return rc;
	p->classify = is_integer(h->fields[p->truth].dtype);
	if (o->pred_given || !p->classify) {
		if ((rc = p->pred = qt_field_require(h, o->pred, "--pred")) < 0)
			return rc;
	} else {
		p->pred = qt_header_find(h, o->pred);
	}
	if (!p->classify)
		return plan_regression(h, p);
	if (o->prob) {
		if ((rc = p->prob = qt_field_require(h, o->prob, "--prob")) < 0)
			return rc;
	} else {
		p->prob = qt_header_find(h, "prob");
	}
	return plan_classification(h, o, p);
}

/* Write the metrics stream of `hm`/`bm` to `out`. */
static int write_stream(const char *out, qt_header *hm, qt_batch *bm,
			const char *task)
{
	qt_writer *w = NULL;
	int rc, step;
	if ((step = qt_cli_provenance(hm)) < 0)
		return step;
	if ((rc = qt_header_add_param(hm, step, "task", task)) < 0)
		return rc;
	if ((rc = qt_writer_open(&w, out, hm)) < 0)
		return qt_error_prefix(rc, "%s: ", out);
	if ((rc = qt_writer_write(w, bm)) < 0) {
		qt_writer_abort(w);
		return rc;
	}
	return qt_writer_close(w);
}

static int run(const struct opts *o)
{
	qt_reader *r = NULL;
	qt_batch *b = NULL, *bm = NULL;
	qt_header *hm = NULL;
	const qt_header *h;
	struct plan p = {0};
	qt_cls_eval ce = {0};
	qt_reg_eval re = {0};
	FILE *table = (o->output && !strcmp(o->output, "-")) ||
		      (o->json && !strcmp(o->json, "-")) ? stderr : stdout;
	char source[256];
	int rc;

	if ((rc = qt_reader_open(&r, o->input)) < 0)
		goto out;
	h = qt_reader_header(r);
	if ((rc = make_plan(h, o, &p)) < 0)
		goto out;
	if (p.classify)
		rc = qt_cls_init(&ce, p.nclasses, p.fixed,
				 p.prob >= 0 && !o->no_auc);
	else
		rc = qt_reg_init(&re, p.k);
	if (rc < 0)
		goto out;
	while ((rc = qt_reader_next(r, &b)) > 0) {
		const qt_tensor *pt = p.pred >= 0 ? b->t[p.pred] : NULL;
		if (p.classify)
			rc = qt_cls_add_tensors(&ce, b->t[p.truth], pt,
						p.prob >= 0 ? b->t[p.prob] : NULL);
		else
			rc = qt_reg_add_tensors(&re, b->t[p.truth], pt);
		qt_batch_free(b);
		b = NULL;
		if (rc < 0)
			goto out;
	}
	if (rc < 0)
		goto out;
	if ((p.classify ? ce.n : re.n) == 0) {
		rc = qt_error(QT_EFORMAT, "the stream has no samples to "
			      "evaluate");
		goto out;
	}
	snprintf(source, sizeof source, "truth '%s'%s%s%s%s%s%s",
		 h->fields[p.truth].name, p.pred >= 0 ? ", predictions '" : "",
		 p.pred >= 0 ? h->fields[p.pred].name : "",
		 p.pred >= 0 ? "'" : "", p.prob >= 0 ? ", probabilities '" : "",
		 p.prob >= 0 ? h->fields[p.prob].name : "",
		 p.prob >= 0 ? "'" : "");
	if (p.classify) {
		if ((rc = qt_cls_compute(&ce)) < 0 ||
		    (rc = qt_cls_print(table, &ce, p.names, source)) < 0 ||
		    (o->json && (rc = qt_cls_write_json(o->json, &ce,
							p.names)) < 0) ||
		    (o->output && (rc = qt_cls_stream(&ce, p.names, h, &hm,
						      &bm)) < 0))
			goto out;
	} else {
		qt_reg_compute(&re);
		if ((rc = qt_reg_print(table, &re, source)) < 0 ||
		    (o->json && (rc = qt_reg_write_json(o->json, &re)) < 0) ||
		    (o->output && (rc = qt_reg_stream(&re, h, &hm, &bm)) < 0))
			goto out;
	}
	if (o->output)
		rc = write_stream(o->output, hm, bm,
				  p.classify ? "classification" : "regression");
out:
	qt_batch_free(b);
	qt_batch_free(bm);
	qt_header_free(hm);
	qt_cls_free(&ce);
	qt_reg_free(&re);
	qt_reader_close(r);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"input", required_argument, NULL, 'i'},
		{"truth", required_argument, NULL, 't'},
		{"pred", required_argument, NULL, 'p'},
		{"prob", required_argument, NULL, 'P'},
		{"no-auc", no_argument, NULL, 'A'},
		{"json", required_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	struct opts o = {.input = "-", .truth = "labels", .pred = "pred"};
	int c;

	qt_cli_init("evaluate", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:t:p:j:o:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'i': o.input = optarg; break;
		case 't': o.truth = optarg; break;
		case 'p': o.pred = optarg; o.pred_given = 1; break;
		case 'P': o.prob = optarg; break;
		case 'A': o.no_auc = 1; break;
		case 'j': o.json = optarg; break;
		case 'o': o.output = optarg; break;
		case 'h': return qt_cli_finish(qt_cli_help(usage));
		case 'V': return qt_cli_finish(qt_cli_version());
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	if (o.json && o.output && !strcmp(o.json, "-") &&
	    !strcmp(o.output, "-"))
		return qt_cli_usage("--json and --output cannot both be "
				    "standard output");
	return qt_cli_finish(run(&o));
}
