/* split.c: quanta-split, one stream into train / validation / test.
 *
 * Samples are assigned in windows of --window consecutive samples, cut
 * without regard to the input's batches (so rebatching the input does not
 * change the split); common/splitter.h assigns each sample to a part so
 * that every part gets its fraction exactly (to within one sample per
 * class, at every point of the stream, without knowing its length) and,
 * with --stratify, every class is split in the same proportions; within a
 * window the choice of samples is uniformly random for the seed.  Each
 * part keeps the input's sample order and batches (qt_batch_take) and the
 * input header, plus a provenance step with param part=train|val|test.
 * Memory: one window plus one batch.
 *
 * With --group FIELD all samples sharing a value of FIELD go to one part
 * and the fractions are met in samples by whole groups: a first pass
 * counts the samples of every group (common/splitter.h plans the
 * assignment) while common/spool.h keeps the batches, and a second pass
 * writes them.  Memory: one batch plus under 80 bytes per distinct group.
 * docs/stages/split.md is the manual.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/fieldref.h"
#include "common/label.h"
#include "common/splitter.h"
#include "common/spool.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta split --train F [--val F] [--test F] -o TRAIN --test-out TEST\n"
	"                    [--val-out VAL] [OPTIONS]\n"
	"Split a stream into training, validation and test streams.\n"
	"\n"
	"  -i, --input ENDPOINT     stream to read (default '-': stdin)\n"
	"      --train F            fraction of samples for training (0 to 1)\n"
	"      --val F              fraction for validation (default 0)\n"
	"      --test F             fraction for testing (default: the rest)\n"
	"  -o, --output ENDPOINT    where the training part goes (default '-')\n"
	"      --val-out ENDPOINT   where the validation part goes\n"
	"      --test-out ENDPOINT  where the test part goes (also --rest)\n"
	"      --stratify FIELD     split every class of this label field in the\n"
	"                           same proportions\n"
	"      --group FIELD        keep the samples that share a value of this\n"
	"                           scalar field (e.g. a simulation run) in one\n"
	"                           part; the fractions count samples, met by\n"
	"                           whole groups (input read twice)\n"
	"      --seed S             seed of the random assignment (default 0)\n"
	"      --window N           samples shuffled together (default 256)\n"
	"  -q, --quiet              do not report the part sizes on stderr\n"
	"  -h, --help               show this help\n"
	"  -V, --version            show the version\n"
	"\n"
	"Every part gets its fraction of the samples (of every class, with\n"
	"--stratify) to within one sample, which samples go where is random for\n"
	"the seed, and the same seed and input give the same split.  Each output\n"
	"is a file, '-' or a ZeroMQ endpoint.  With --group, each part gets its\n"
	"fraction of the samples to within about one group's size.\n"
	"\n"
	"Examples:\n"
	"  quanta split --train 0.8 -i jets.qs -o train.qs --test-out test.qs\n"
	"  quanta simulate jets -n 10000 | quanta split --train 0.7 --val 0.15 \\\n"
	"      --stratify labels --seed 7 -o train.qs --val-out val.qs --test-out test.qs\n"
	"  quanta split --train 0.8 --group run -i eor.qs -o train.qs --test-out test.qs\n";

enum { TRAIN, VAL, TEST, NPARTS };
static const char *const part_name[NPARTS] = {"train", "val", "test"};

/* Batches read but not yet written, and their samples' strata and parts.
 * Samples [0, assigned) have a part; windows of exactly `size` samples
 * are assigned as soon as they are complete, so the assignment does not
 * depend on how the input is batched. */
struct pending {
	qt_batch **b;
	int nb, cap;
	int64_t n;        /* samples buffered */
	int64_t assigned; /* samples with a part: a prefix */
	int64_t size;     /* the window */
	int64_t *key;     /* (n) strata */
	uint8_t *part;    /* (n) parts */
	int64_t room;     /* allocated length of key and part */
	int64_t *idx;     /* scratch for qt_batch_take */
};

static void pending_free(struct pending *q)
{
	for (int j = 0; j < q->nb; j++)
		qt_batch_free(q->b[j]);
	free(q->b);
	free(q->key);
	free(q->part);
	free(q->idx);
}

/* Take batch b (ownership passes) and record its samples' strata. */
static int pending_push(struct pending *q, qt_batch *b, const qt_header *h,
			int strat, int label_kind)
{
	int rc;
	if (q->nb == q->cap) {
		int cap = q->cap ? 2 * q->cap : 8;
		qt_batch **nb = realloc(q->b, (size_t)cap * sizeof *nb);
		if (!nb)
			goto nomem;
		q->b = nb;
		q->cap = cap;
	}
	if (q->n + b->n > q->room) {
		int64_t room = 2 * (q->n + b->n);
		int64_t *key = realloc(q->key, (size_t)room * sizeof *key);
		if (key)
			q->key = key;
		uint8_t *part = realloc(q->part, (size_t)room);
		if (part)
			q->part = part;
		if (!key || !part)
			goto nomem;
		q->room = room;
	}
	for (int64_t i = 0; i < b->n; i++) {
		q->key[q->n + i] = 0;
		if (strat >= 0 &&
		    (rc = qt_label_get(&h->fields[strat], label_kind,
				       b->t[strat], i, &q->key[q->n + i])) < 0) {
			qt_batch_free(b);
			return qt_error_prefix(rc, "--stratify: ");
		}
	}
	q->b[q->nb++] = b;
	q->n += b->n;
	return 0;
nomem:
	qt_batch_free(b);
	return qt_error(QT_ENOMEM, "out of memory");
}

/* Write each part's share of batch b, whose parts are part[0 .. n-1]. */
static int write_parts(struct pending *q, const qt_header *h,
		       const qt_batch *b, const uint8_t *part, qt_writer **out)
{
	int64_t *idx = realloc(q->idx, (size_t)(b->n ? b->n : 1) * sizeof *idx);
	int rc = 0;
	if (!idx)
		return qt_error(QT_ENOMEM, "out of memory");
	q->idx = idx;
	for (int p = 0; p < NPARTS && rc == 0; p++) {
		int64_t k = 0;
		for (int64_t i = 0; i < b->n; i++)
			if (part[i] == p)
				idx[k++] = i;
		if (k == 0)
			continue;
		if (k == b->n) {
			rc = qt_writer_write(out[p], b);
		} else {
			qt_batch *t = qt_batch_take(h, b, idx, k);
			rc = t ? qt_writer_write(out[p], t) : QT_ENOMEM;
			qt_batch_free(t);
		}
	}
	return rc;
}

/* Assign every complete window (all that is left when `last`), then
 * write and drop the batches whose samples all have a part. */
static int pending_flush(struct pending *q, const qt_header *h, int last,
			 qt_splitter *sp, qt_writer **out)
{
	int64_t done = 0;
	int j, rc;
	while (q->n - q->assigned >= q->size ||
	       (last && q->n > q->assigned)) {
		int64_t k = q->n - q->assigned < q->size ? q->n - q->assigned
							 : q->size;
		if ((rc = qt_splitter_assign(sp, q->key + q->assigned, k,
					     q->part + q->assigned)) < 0)
			return rc;
		q->assigned += k;
	}
	for (j = 0; j < q->nb && done + q->b[j]->n <= q->assigned; j++) {
		if ((rc = write_parts(q, h, q->b[j], q->part + done, out)) < 0)
			return rc;
		done += q->b[j]->n;
		qt_batch_free(q->b[j]);
		q->b[j] = NULL;
	}
	memmove(q->b, q->b + j, (size_t)(q->nb - j) * sizeof *q->b);
	q->nb -= j;
	memmove(q->key, q->key + done, (size_t)(q->n - done) * sizeof *q->key);
	memmove(q->part, q->part + done, (size_t)(q->n - done));
	q->n -= done;
	q->assigned -= done;
	return 0;
}

/* The three fractions from the options given (NULL: not given). */
static int fractions(const char *const given[NPARTS], double frac[NPARTS])
{
	static const char *const opt[NPARTS] = {"--train", "--val", "--test"};
	double sum = 0;
	int rc, nset = 0;
	for (int p = 0; p < NPARTS; p++) {
		frac[p] = 0;
		if (!given[p])
			continue;
		if ((rc = qt_parse_double(given[p], opt[p], 0, 1, &frac[p])) < 0)
			return rc;
		sum += frac[p];
		nset++;
	}
	if (!given[TRAIN] && !given[TEST])
		return qt_error(QT_EUSAGE, "give the training fraction with "
				"--train F (or --test F)");
	if (sum > 1 + 1e-9)
		return qt_error(QT_EUSAGE, "the fractions add up to %g, more "
				"than 1", sum);
	if (nset == NPARTS && fabs(sum - 1) > 1e-9)
		return qt_error(QT_EUSAGE, "--train, --val and --test add up to "
				"%g, not 1", sum);
	/* The one part not given takes the rest. */
	if (!given[TEST])
		frac[TEST] = fmax(0, 1 - frac[TRAIN] - frac[VAL]);
	else if (!given[TRAIN])
		frac[TRAIN] = fmax(0, 1 - frac[TEST] - frac[VAL]);
	else if (!given[VAL])
		frac[VAL] = fmax(0, 1 - frac[TRAIN] - frac[TEST]);
	if (frac[TRAIN] + frac[VAL] + frac[TEST] < 1 - 1e-9)
		return qt_error(QT_EUSAGE, "the fractions add up to less than 1");
	return 0;
}

static int open_outputs(qt_writer **out, const char *const path[NPARTS],
			const qt_header *in)
{
	for (int p = 0; p < NPARTS; p++) {
		qt_header *h;
		int rc, step;
		if (!path[p])
			continue;
		if (!(h = qt_header_clone(in)))
			return qt_error(QT_ENOMEM, "out of memory");
		step = rc = qt_cli_provenance(h);
		if (rc >= 0)
			rc = qt_header_add_param(h, step, "part", part_name[p]);
		if (rc >= 0)
			rc = qt_writer_open(&out[p], path[p], h);
		qt_header_free(h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void report(const qt_splitter *sp, const char *const path[NPARTS])
{
	char msg[256];
	int n = 0;
	int64_t total = 0;
	for (int p = 0; p < NPARTS; p++)
		total += qt_splitter_count(sp, p);
	for (int p = 0; p < NPARTS; p++)
		if (path[p])
			n += snprintf(msg + n, sizeof msg - (size_t)n, "%s%lld %s",
				      n ? ", " : "",
				      (long long)qt_splitter_count(sp, p),
				      part_name[p]);
	qt_cli_note("%lld samples: %s", (long long)total, msg);
}

/* The one-pass split of the stream read by rd, window by window. */
static int split_windows(qt_splitter *sp, qt_reader *rd, struct pending *q,
			 int strat, int label_kind, qt_writer **out)
{
	const qt_header *h = qt_reader_header(rd);
	qt_batch *b;
	int rc;
	while ((rc = qt_reader_next(rd, &b)) > 0)
		if ((rc = pending_push(q, b, h, strat, label_kind)) < 0 ||
		    (rc = pending_flush(q, h, 0, sp, out)) < 0)
			return rc;
	if (rc == 0)
		rc = pending_flush(q, h, 1, sp, out);
	return rc;
}

/* Sample i's value of the --group field.  Integers are compared as
 * doubles, so 64-bit ones beyond 2^53 (which could merge) are refused. */
static int group_value(const qt_field *f, const qt_tensor *t, int64_t i,
		       double *v)
{
	const double exact = 9007199254740992.0; /* 2^53 */
	*v = qt_tensor_get(t, i);
	if ((t->dtype == QT_I64 || t->dtype == QT_U64) && fabs(*v) > exact)
		return qt_error(QT_EFORMAT, "--group %s: value %.17g is too "
				"large to tell from its neighbours (beyond 2^53)",
				f->name, *v);
	if (isnan(*v))
		return qt_error(QT_ENUMERIC, "--group %s: the value is NaN; drop "
				"such samples first (quanta filter --finite %s)",
				f->name, f->name);
	return 0;
}

/* The field of --group: one value per sample. */
static int group_field(const qt_header *h, const char *name)
{
	char s[96];
	int f = qt_field_require(h, name, "--group");
	if (f >= 0 && qt_field_numel(&h->fields[f]) != 1)
		return qt_error(QT_EUSAGE, "--group %s: per-sample shape %s is not "
				"one value per sample", name,
				qt_shape_str(s, sizeof s, h->fields[f].ndim,
					     h->fields[f].shape));
	return f;
}

/* First pass: count the samples of every group in batch b. */
static int count_groups(qt_group_splitter *gs, const qt_header *h, int gf,
			const qt_batch *b, int64_t nb)
{
	for (int64_t i = 0; i < b->n; i++) {
		double v;
		int rc = group_value(&h->fields[gf], b->t[gf], i, &v);
		if (rc == 0)
			rc = qt_group_splitter_add(gs, v);
		if (rc < 0)
			return qt_error_prefix(rc, "batch %lld, sample %lld: ",
					       (long long)nb, (long long)i);
	}
	return 0;
}

/* The part of every sample of batch b into (*part)[0 .. b->n - 1]. */
static int group_parts(const qt_group_splitter *gs, const qt_header *h,
		       int gf, const qt_batch *b, uint8_t **part, int64_t *cap)
{
	if (b->n > *cap) {
		uint8_t *np = realloc(*part, (size_t)b->n);
		if (!np)
			return qt_error(QT_ENOMEM, "out of memory");
		*part = np;
		*cap = b->n;
	}
	for (int64_t i = 0; i < b->n; i++) {
		double v;
		int p, rc = group_value(&h->fields[gf], b->t[gf], i, &v);
		if (rc < 0)
			return rc;
		if ((p = qt_group_splitter_part(gs, v)) < 0)
			return p;
		(*part)[i] = (uint8_t)p;
	}
	return 0;
}

/* Second pass: every batch's samples to the parts of their groups. */
static int write_grouped(const qt_group_splitter *gs, const qt_header *h,
			 int gf, qt_spool *sp, qt_writer **out)
{
	struct pending q = {0};
	uint8_t *part = NULL;
	int64_t cap = 0;
	qt_batch *b;
	int rc;
	while ((rc = qt_spool_next(sp, &b)) > 0) {
		rc = group_parts(gs, h, gf, b, &part, &cap);
		if (rc == 0)
			rc = write_parts(&q, h, b, part, out);
		qt_batch_free(b);
		if (rc < 0)
			break;
	}
	free(part);
	pending_free(&q);
	return rc;
}

/* Both passes of a grouped split of the stream read by rd; the outputs
 * are opened between them, so bad input leaves nothing behind. */
static int split_grouped(qt_group_splitter *gs, qt_reader *rd,
			 const char *input, int gf,
			 const char *const path[NPARTS], qt_writer **out)
{
	const qt_header *h = qt_reader_header(rd);
	qt_spool *sp = NULL;
	qt_batch *b;
	int64_t nb = 0;
	int rc;
	if ((rc = qt_spool_open(&sp, input, h)) < 0)
		return rc;
	while ((rc = qt_reader_next(rd, &b)) > 0) {
		rc = count_groups(gs, h, gf, b, ++nb);
		if (rc == 0)
			rc = qt_spool_add(sp, b);
		qt_batch_free(b);
		if (rc < 0)
			break;
	}
	if (rc == 0 && (rc = qt_group_splitter_plan(gs)) == 0 &&
	    (rc = open_outputs(out, path, h)) == 0 &&
	    (rc = qt_spool_rewind(sp)) == 0)
		rc = write_grouped(gs, h, gf, sp, out);
	qt_spool_close(sp);
	return rc;
}

static void report_grouped(const qt_group_splitter *gs, const char *field,
			   const double frac[NPARTS],
			   const char *const path[NPARTS], int quiet)
{
	char msg[384];
	int n = 0;
	int64_t total = 0;
	for (int p = 0; p < NPARTS; p++)
		total += qt_group_splitter_count(gs, p);
	for (int p = 0; p < NPARTS; p++) {
		int64_t g = qt_group_splitter_groups(gs, p);
		if (frac[p] > 0 && g == 0 && total > 0)
			qt_cli_note("warning: the %s part is empty: %lld group%s "
				    "of '%s' cannot be split %g/%g/%g",
				    part_name[p],
				    (long long)qt_group_splitter_ngroups(gs),
				    qt_group_splitter_ngroups(gs) == 1 ? "" : "s",
				    field, frac[TRAIN], frac[VAL], frac[TEST]);
		if (path[p])
			n += snprintf(msg + n, sizeof msg - (size_t)n,
				      "%s%lld %s (%lld group%s)", n ? ", " : "",
				      (long long)qt_group_splitter_count(gs, p),
				      part_name[p], (long long)g, g == 1 ? "" : "s");
	}
	if (!quiet)
		qt_cli_note("%lld samples in %lld groups of '%s': %s",
			    (long long)total,
			    (long long)qt_group_splitter_ngroups(gs), field, msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, 0, 'i'},
		{"output", required_argument, 0, 'o'},
		{"train", required_argument, 0, 't'},
		{"val", required_argument, 0, 'v'},
		{"test", required_argument, 0, 'e'},
		{"val-out", required_argument, 0, 'W'},
		{"test-out", required_argument, 0, 'E'},
		{"rest", required_argument, 0, 'E'},
		{"stratify", required_argument, 0, 's'},
		{"group", required_argument, 0, 'g'},
		{"seed", required_argument, 0, 'S'},
		{"window", required_argument, 0, 'w'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	const char *input = "-", *given[NPARTS] = {0}, *path[NPARTS] = {"-"};
	const char *stratify = NULL, *seed_s = NULL, *group = NULL;
	long long seed = 0, window = 256;
	double frac[NPARTS];
	int quiet = 0, c, rc = 0, strat = -1, label_kind = 0, gf = -1;
	int window_given = 0;
	qt_reader *rd = NULL;
	const qt_header *h;
	qt_writer *out[NPARTS] = {0};
	qt_splitter *sp = NULL;
	qt_group_splitter *gs = NULL;
	struct pending q = {0};

	qt_cli_init("split", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVi:o:q", opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'o': path[TRAIN] = optarg; break;
		case 't': given[TRAIN] = optarg; break;
		case 'v': given[VAL] = optarg; break;
		case 'e': given[TEST] = optarg; break;
		case 'W': path[VAL] = optarg; break;
		case 'E': path[TEST] = optarg; break;
		case 's': stratify = optarg; break;
		case 'g': group = optarg; break;
		case 'S': seed_s = optarg; break;
		case 'w':
			if ((rc = qt_parse_int(optarg, "--window", 1, 1 << 24,
					       &window)) < 0)
				return qt_cli_usage("%s", qt_error_message(rc));
			window_given = 1;
			break;
		case 'q': quiet = 1; break;
		case 'h': return qt_cli_help(help);
		case 'V': return qt_cli_version();
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	if (seed_s && (rc = qt_parse_int(seed_s, "--seed", 0, INT64_MAX,
					 &seed)) < 0)
		return qt_cli_usage("%s", qt_error_message(rc));
	if ((rc = fractions(given, frac)) < 0)
		return qt_cli_usage("%s", qt_error_message(rc));
	if (group && stratify)
		return qt_cli_usage("--group and --stratify do not combine: whole "
				    "groups cannot also split every class in "
				    "proportion");
	if (group && window_given)
		return qt_cli_usage("--window does not apply to --group: whole "
				    "groups are shuffled, not windows of samples");
	if (frac[VAL] > 0 && !path[VAL])
		return qt_cli_usage("--val %g needs --val-out ENDPOINT", frac[VAL]);
	if (path[VAL] && !given[VAL])
		return qt_cli_usage("--val-out needs --val FRACTION");
	if (frac[TEST] > 0 && !path[TEST])
		return qt_cli_usage("the test part (%g of the samples) needs "
				    "--test-out ENDPOINT", frac[TEST]);
	for (int p = 0; p < NPARTS; p++)
		for (int p2 = p + 1; p2 < NPARTS; p2++)
			if (path[p] && path[p2] && !strcmp(path[p], path[p2]))
				return qt_cli_usage("the %s and %s parts both go "
						    "to '%s'", part_name[p],
						    part_name[p2], path[p]);

	if ((rc = qt_reader_open(&rd, input)) < 0)
		goto out;
	h = qt_reader_header(rd);
	if (group && (rc = gf = group_field(h, group)) < 0)
		goto out;
	if (stratify) {
		if ((rc = strat = qt_field_require(h, stratify, "--stratify")) < 0)
			goto out;
		if ((rc = label_kind = qt_label_kind(&h->fields[strat])) < 0)
			goto out;
	}
	if (group) {
		if ((rc = qt_group_splitter_new(&gs, NPARTS, frac,
						(uint64_t)seed)) < 0)
			goto out;
		rc = split_grouped(gs, rd, input, gf, path, out);
	} else {
		if ((rc = qt_splitter_new(&sp, NPARTS, frac, (uint64_t)seed)) < 0 ||
		    (rc = open_outputs(out, path, h)) < 0)
			goto out;
		q.size = window;
		rc = split_windows(sp, rd, &q, strat, label_kind, out);
	}
	for (int p = 0; rc == 0 && p < NPARTS; p++) {
		rc = qt_writer_close(out[p]);
		out[p] = NULL;
	}
	if (rc == 0 && gs)
		report_grouped(gs, group, frac, path, quiet);
	else if (rc == 0 && !quiet)
		report(sp, path);
out:
	for (int p = 0; p < NPARTS; p++)
		qt_writer_abort(out[p]);
	pending_free(&q);
	qt_splitter_free(sp);
	qt_group_splitter_free(gs);
	qt_reader_close(rd);
	return qt_cli_finish(rc);
}
