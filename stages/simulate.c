/* simulate.c: `quanta simulate WORKFLOW [options]`: a stream of simulated
 * samples for one of the five workflows, so every pipeline runs without
 * the original data sets.
 *
 * The skeleton every simulator shares: the workflow table, the writer,
 * batches of at most --batch samples (memory is bounded by the batch, not
 * by -n), a progress line on a terminal, and provenance recording the
 * workflow, the seed and the generator's parameters.  Sample i of seed s
 * depends only on (s, i) (its own qt_rng stream), so --batch never
 * changes the samples.  Each workflow adds an options parser, a header and
 * a fill function calling its library in sim/.
 *
 * Workflows: jets (sim/jets.h), eor (sim/eor.h).  docs/stages/simulate.md
 * is the manual.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/stream.h"
#include "common/threadpool.h"
#include "sim/eor.h"
#include "sim/jets.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BATCH_BYTES ((int64_t)1 << 30)

/* Fill samples first .. first+b->n-1 of the batch's tensors. */
typedef int (*fill_fn)(qt_batch *b, int64_t first, void *ctx);

/* ---- shared by every workflow ---- */

/* A batch of up to `cap` samples of the fixed-shape fields of h. */
static int batch_alloc(qt_batch **bp, const qt_header *h, int64_t cap)
{
	qt_batch *b = qt_batch_new(h->nfields);
	if (!b)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		int64_t shape[QT_MAX_DIMS] = {cap};
		for (int d = 0; d < f->ndim; d++)
			shape[d + 1] = f->shape[d];
		if (!(b->t[i] = qt_tensor_new(f->dtype, f->ndim + 1, shape))) {
			qt_batch_free(b);
			return qt_error(QT_ENOMEM, "out of memory for a batch of "
					"%lld samples (lower --batch)",
					(long long)cap);
		}
	}
	b->n = cap;
	*bp = b;
	return 0;
}

static void progress(const char *workflow, int64_t done, int64_t total)
{
	fprintf(stderr, "\rquanta-simulate: %s %lld/%lld (%d%%)", workflow,
		(long long)done, (long long)total,
		total ? (int)(100 * done / total) : 100);
	if (done == total)
		fputc('\n', stderr);
}

/* Write `total` samples to `out` in batches of `batch`. */
static int emit(const char *out, const char *workflow, const qt_header *h,
		int64_t total, int64_t batch, fill_fn fill, void *ctx)
{
	qt_writer *w = NULL;
	qt_batch *b = NULL;
	int tty = isatty(2), shown = 0, rc;

	if ((rc = batch_alloc(&b, h, total < batch ? (total ? total : 1)
						  : batch)) < 0)
		return rc;
	if ((rc = qt_writer_open(&w, out, h)) < 0)
		goto out;
	for (int64_t first = 0; first < total; first += batch) {
		int64_t n = total - first < batch ? total - first : batch;
		b->n = n;
		for (int i = 0; i < b->nfields; i++)
			b->t[i]->shape[0] = n;
		if ((rc = fill(b, first, ctx)) < 0 ||
		    (rc = qt_writer_write(w, b)) < 0)
			goto out;
		if (tty) {
			progress(workflow, first + n, total);
			shown = first + n < total;
		}
	}
	rc = qt_writer_close(w);
	w = NULL;
out:
	if (shown) /* end the progress line before an error message */
		fputc('\n', stderr);
	qt_writer_abort(w);
	qt_batch_free(b);
	return rc;
}

static int param(qt_header *h, int step, const char *key, double v)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.15g", v);
	return qt_header_add_param(h, step, key, buf);
}

static int param_int(qt_header *h, int step, const char *key, long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	return qt_header_add_param(h, step, key, buf);
}

/* ---- jets ---- */

static const char jets_help[] =
	"Usage: quanta simulate jets [OPTIONS]\n"
	"Calorimeter jet images of gluon, quark, top, W and Z jets: a parton\n"
	"shower with Casimir scaling, boosted two- and three-prong decays,\n"
	"hadronisation, underlying event and calorimeter smearing.\n"
	"Fields: images float32 (1, S, S) (rows phi, columns eta, pT per pixel),\n"
	"labels int64 () with classes g,q,t,w,z, pt and mass float32 (GeV,\n"
	"particle-level truth).\n"
	"\n"
	"  -n, --samples N       number of jets (default 10000)\n"
	"      --batch B         jets per batch (default 1000)\n"
	"      --seed S          random seed (default 1); sample i depends only on S, i\n"
	"  -o, --output OUT      file, '-' (default) or ZeroMQ endpoint\n"
	"      --classes LIST    classes to draw, label k the k-th (default g,q,t,w,z)\n"
	"      --size S          image side in pixels (default 20)\n"
	"      --pixel D         pixel size in eta and phi (default 0.1)\n"
	"      --pt-min GEV      jet pT range, uniform, all classes (default 500)\n"
	"      --pt-max GEV      (default 1000)\n"
	"      --radius R        jet radius: shower cone, containment (default 0.8)\n"
	"      --ue RHO          underlying event + pile-up, GeV/unit area (default 0.5)\n"
	"      --resolution A,B  sigma/E = A/sqrt(E) (+) B (default 0.5,0.03)\n"
	"      --noise GEV       Gaussian noise per pixel (default 0.1)\n"
	"      --threshold GEV   pixels below this are zero (default 0.5)\n"
	"      --normalise MODE  sum (default: each image sums to 1), max, or none (GeV)\n"
	"  -h, --help            this help\n"
	"  -V, --version         version\n"
	"\n"
	"Example:\n"
	"  quanta simulate jets -n 50000 --seed 7 -o jets.qs\n"
	"  quanta simulate jets -n 1000 --classes w,z --normalise none | quanta inspect\n";

typedef struct jets_ctx {
	qt_jet_params p;
	uint64_t seed;
	int classes[QT_JET_NCLASSES];
	int nclasses;
} jets_ctx;

static int jets_fill(qt_batch *b, int64_t first, void *ctx)
{
	jets_ctx *c = ctx;
	return qt_jets_fill(b->t[0]->data, b->t[1]->data, b->t[2]->data,
			    b->t[3]->data, first, b->n, c->seed, c->classes,
			    c->nclasses, &c->p);
}

static int jets_parse_classes(jets_ctx *c, const char *s)
{
	char **items;
	int n, rc = qt_parse_list(s, "--classes", &items, &n);
	if (rc < 0)
		return rc;
	if (n > QT_JET_NCLASSES)
		rc = qt_error(QT_EUSAGE, "--classes: at most %d classes",
			      QT_JET_NCLASSES);
	for (int k = 0; k < n && !rc; k++) {
		int cls = qt_jet_class_parse(items[k]);
		if (cls < 0) {
			rc = qt_error(QT_EUSAGE, "--classes: unknown class "
				      "'%s' (known: g,q,t,w,z)", items[k]);
			break;
		}
		for (int j = 0; j < k; j++)
			if (c->classes[j] == cls)
				rc = qt_error(QT_EUSAGE, "--classes: '%s' "
					      "given twice", items[k]);
		c->classes[k] = cls;
	}
	c->nclasses = n;
	qt_free_list(items, n);
	return rc;
}

static int jets_parse_resolution(jets_ctx *c, const char *s)
{
	char **items;
	int n, rc = qt_parse_list(s, "--resolution", &items, &n);
	if (rc < 0)
		return rc;
	if (n != 2)
		rc = qt_error(QT_EUSAGE, "--resolution: expected A,B (e.g. "
			      "0.5,0.03), got '%s'", s);
	else if ((rc = qt_parse_double(items[0], "--resolution A", 0, 10,
				       &c->p.stochastic)) == 0)
		rc = qt_parse_double(items[1], "--resolution B", 0, 1,
				     &c->p.constant);
	qt_free_list(items, n);
	return rc;
}

static int jets_header(qt_header **hp, const jets_ctx *c, int64_t n)
{
	static const char *const norms[] = {"none", "sum", "max"};
	const char *names[QT_JET_NCLASSES];
	int64_t img[3] = {1, c->p.size, c->p.size};
	char list[16] = "";
	qt_header *h = qt_header_new();
	int rc, step;

	if (!h)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int k = 0; k < c->nclasses; k++) {
		names[k] = qt_jet_class_names[c->classes[k]];
		strcat(list, k ? "," : "");
		strcat(list, names[k]);
	}
	if ((rc = qt_header_add_field(h, "images", QT_F32, 3, img)) < 0 ||
	    (rc = qt_header_add_field(h, "labels", QT_I64, 0, NULL)) < 0 ||
	    (rc = qt_header_add_field(h, "pt", QT_F32, 0, NULL)) < 0 ||
	    (rc = qt_header_add_field(h, "mass", QT_F32, 0, NULL)) < 0 ||
	    (rc = qt_header_set_classes(h, 1, c->nclasses, names)) < 0 ||
	    (rc = step = qt_cli_provenance(h)) < 0 ||
	    (rc = qt_header_add_param(h, step, "workflow", "jets")) < 0 ||
	    (rc = qt_header_add_param(h, step, "generator", "sim/jets.c 1")) < 0 ||
	    (rc = param_int(h, step, "seed", (long long)c->seed)) < 0 ||
	    (rc = param_int(h, step, "samples", n)) < 0 ||
	    (rc = qt_header_add_param(h, step, "classes", list)) < 0 ||
	    (rc = param_int(h, step, "size", c->p.size)) < 0 ||
	    (rc = param(h, step, "pixel", c->p.pixel)) < 0 ||
	    (rc = param(h, step, "pt_min", c->p.pt_min)) < 0 ||
	    (rc = param(h, step, "pt_max", c->p.pt_max)) < 0 ||
	    (rc = param(h, step, "radius", c->p.radius)) < 0 ||
	    (rc = param(h, step, "ue", c->p.ue_density)) < 0 ||
	    (rc = param(h, step, "resolution_a", c->p.stochastic)) < 0 ||
	    (rc = param(h, step, "resolution_b", c->p.constant)) < 0 ||
	    (rc = param(h, step, "noise", c->p.noise)) < 0 ||
	    (rc = param(h, step, "threshold", c->p.threshold)) < 0 ||
	    (rc = qt_header_add_param(h, step, "normalise",
				      norms[c->p.normalise])) < 0) {
		qt_header_free(h);
		return rc;
	}
	*hp = h;
	return 0;
}

enum { O_BATCH = 256, O_SEED, O_CLASSES, O_SIZE, O_PIXEL, O_PTMIN, O_PTMAX,
       O_RADIUS, O_UE, O_RES, O_NOISE, O_THRESH, O_NORM };

/* The jets knobs that are plain numbers: option, range, field. */
static const struct knob {
	int opt;
	const char *name;
	double min, max;
	size_t off;
} jets_knobs[] = {
	{O_PIXEL, "--pixel", 1e-3, 1, offsetof(qt_jet_params, pixel)},
	{O_PTMIN, "--pt-min", 20, 1e5, offsetof(qt_jet_params, pt_min)},
	{O_PTMAX, "--pt-max", 20, 1e5, offsetof(qt_jet_params, pt_max)},
	{O_RADIUS, "--radius", 0.05, 3, offsetof(qt_jet_params, radius)},
	{O_UE, "--ue", 0, 1000, offsetof(qt_jet_params, ue_density)},
	{O_NOISE, "--noise", 0, 100, offsetof(qt_jet_params, noise)},
	{O_THRESH, "--threshold", 0, 1e4, offsetof(qt_jet_params, threshold)},
};

static int jets_parse_knob(jets_ctx *c, int opt, const char *arg)
{
	for (size_t k = 0; k < sizeof jets_knobs / sizeof *jets_knobs; k++)
		if (jets_knobs[k].opt == opt)
			return qt_parse_double(arg, jets_knobs[k].name,
					       jets_knobs[k].min,
					       jets_knobs[k].max,
					       (double *)((char *)&c->p +
							  jets_knobs[k].off));
	return qt_error(QT_EINTERNAL, "option %d has no knob", opt);
}

static int jets_parse_norm(jets_ctx *c, const char *arg)
{
	if (!strcmp(arg, "sum"))
		c->p.normalise = QT_JET_NORM_SUM;
	else if (!strcmp(arg, "max"))
		c->p.normalise = QT_JET_NORM_MAX;
	else if (!strcmp(arg, "none"))
		c->p.normalise = QT_JET_NORM_NONE;
	else
		return qt_error(QT_EUSAGE, "--normalise: unknown mode '%s' "
				"(sum, max or none)", arg);
	return 0;
}

static int jets_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"samples", required_argument, 0, 'n'},
		{"batch", required_argument, 0, O_BATCH},
		{"seed", required_argument, 0, O_SEED},
		{"output", required_argument, 0, 'o'},
		{"classes", required_argument, 0, O_CLASSES},
		{"size", required_argument, 0, O_SIZE},
		{"pixel", required_argument, 0, O_PIXEL},
		{"pt-min", required_argument, 0, O_PTMIN},
		{"pt-max", required_argument, 0, O_PTMAX},
		{"radius", required_argument, 0, O_RADIUS},
		{"ue", required_argument, 0, O_UE},
		{"resolution", required_argument, 0, O_RES},
		{"noise", required_argument, 0, O_NOISE},
		{"threshold", required_argument, 0, O_THRESH},
		{"normalise", required_argument, 0, O_NORM},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	jets_ctx c = {.seed = 1, .nclasses = QT_JET_NCLASSES};
	long long n = 10000, batch = 1000, seed = 1, size = 20;
	const char *out = "-";
	qt_header *h = NULL;
	int opt, rc = 0;

	qt_jet_params_default(&c.p);
	for (int k = 0; k < QT_JET_NCLASSES; k++)
		c.classes[k] = k;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":n:o:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			rc = qt_parse_int(optarg, "--samples", 0,
					  (long long)1e12, &n);
			break;
		case O_BATCH:
			rc = qt_parse_int(optarg, "--batch", 1, 1000000, &batch);
			break;
		case O_SEED:
			rc = qt_parse_int(optarg, "--seed", 0, INT64_MAX, &seed);
			break;
		case O_SIZE:
			rc = qt_parse_int(optarg, "--size", 1, 256, &size);
			break;
		case 'o': out = optarg; break;
		case O_CLASSES: rc = jets_parse_classes(&c, optarg); break;
		case O_RES: rc = jets_parse_resolution(&c, optarg); break;
		case O_NORM: rc = jets_parse_norm(&c, optarg); break;
		case 'h': return qt_cli_help(jets_help) ? 1 : qt_cli_finish(0);
		case 'V': return qt_cli_version() ? 1 : qt_cli_finish(0);
		case ':': return qt_cli_bad_option(argv, 1);
		case '?': return qt_cli_bad_option(argv, 0);
		default: rc = jets_parse_knob(&c, opt, optarg); break;
		}
		if (rc < 0)
			return qt_cli_usage("%s", qt_error_message(rc));
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	c.p.size = (int)size;
	c.seed = (uint64_t)seed;
	if ((rc = qt_jet_params_check(&c.p)) < 0)
		return qt_cli_usage("%s", qt_error_message(rc));
	if (batch * size * size * 4 > MAX_BATCH_BYTES)
		return qt_cli_usage("--batch: %lld images of %lld x %lld take "
				    "over 1 GiB; lower --batch", batch, size, size);

	if ((rc = jets_header(&h, &c, n)) == 0)
		rc = emit(out, "jets", h, n, batch, jets_fill, &c);
	qt_header_free(h);
	return qt_cli_finish(rc);
}

/* ---- eor ---- */

static const char eor_help[] =
	"Usage: quanta simulate eor [OPTIONS]\n"
	"21cm brightness-temperature maps of the epoch of reionisation: planes\n"
	"through a CDM density field, ionised spheres where an excursion-set\n"
	"barrier is crossed (21cmFAST/SimFast21 style, efficiency zeta drawn per\n"
	"run), dTb = 27 mK xHI (1 + delta) ((1 + z) / 10)^(1/2).\n"
	"Fields: maps float32 (1, S, S) in mK, xHI float32 () (the map's neutral\n"
	"fraction), redshift float32 (), zeta float32 (), run int64 ().  Maps come\n"
	"in runs of one zeta: K slices, each seen at every redshift of the list.\n"
	"\n"
	"  -n, --samples N         number of maps (default 1000)\n"
	"      --batch B           maps per batch (default 100)\n"
	"      --seed S            random seed (default 1); map i depends only on (S, i)\n"
	"  -o, --output OUT        file, '-' (default) or ZeroMQ endpoint\n"
	"      --threads T         threads, 0: one per CPU (default); never changes the maps\n"
	"      --size S            map side in pixels, even (default 200)\n"
	"      --box MPC           comoving map side (default 150: 0.75 Mpc pixels)\n"
	"      --redshifts LIST    the redshifts of a run, in order (default 10,9.5,9,8.5,8)\n"
	"      --per-redshift K    slices per redshift in a run (default 4)\n"
	"      --zeta A[,B]        ionising efficiency, log-uniform in [A, B] per run;\n"
	"                          one value fixes it (default 8,32; ~60 x escape fraction)\n"
	"      --tvir K            minimum virial temperature of sources (default 1e4)\n"
	"      --rmax MPC          largest ionised sphere, the mean free path (default 30)\n"
	"      --rmin MPC          smallest ionising sphere, 0: the cell (default 0)\n"
	"      --displacement F    brightness density loses the linear phases below F times\n"
	"                          the rms displacement (default 4; 0: never)\n"
	"      --nonlinear B       log-normal density contrast factor (default 1)\n"
	"      --no-velocity       leave out the line-of-sight velocity gradient\n"
	"      --residual X        neutral fraction left in ionised gas at mean density,\n"
	"                          z = 8, zeta fcoll = 1 (default 0.002; 0: none)\n"
	"  -h, --help              this help\n"
	"  -V, --version           version\n"
	"\n"
	"Example:\n"
	"  quanta simulate eor -n 2000 --seed 7 -o eor.qs\n"
	"  quanta simulate eor -n 20 --size 64 --redshifts 9 --zeta 16 | quanta inspect\n";

typedef struct eor_ctx {
	qt_eor *g;
	qt_pool *pool;
	uint64_t seed;
} eor_ctx;

static int eor_fill(qt_batch *b, int64_t first, void *ctx)
{
	eor_ctx *c = ctx;
	return qt_eor_fill(b->t[0]->data, b->t[1]->data, b->t[2]->data,
			   b->t[3]->data, b->t[4]->data, first, b->n, c->seed,
			   c->g, c->pool);
}

enum { E_BATCH = 256, E_SEED, E_THREADS, E_SIZE, E_BOX, E_Z, E_PERZ, E_ZETA,
       E_TVIR, E_RMAX, E_RMIN, E_DISP, E_NL, E_NOVEL, E_RES };

/* The eor knobs that are plain numbers. */
static const struct knob eor_knobs[] = {
	{E_BOX, "--box", 1, 1e5, offsetof(qt_eor_params, box)},
	{E_TVIR, "--tvir", 1e2, 1e7, offsetof(qt_eor_params, tvir)},
	{E_RMAX, "--rmax", 1e-3, 1e5, offsetof(qt_eor_params, rmax)},
	{E_RMIN, "--rmin", 0, 1e5, offsetof(qt_eor_params, rmin)},
	{E_DISP, "--displacement", 0, 10, offsetof(qt_eor_params, displacement)},
	{E_NL, "--nonlinear", 0, 5, offsetof(qt_eor_params, nonlinear)},
	{E_RES, "--residual", 0, 1, offsetof(qt_eor_params, residual)},
};

static int eor_parse_knob(qt_eor_params *p, int opt, const char *arg)
{
	for (size_t k = 0; k < sizeof eor_knobs / sizeof *eor_knobs; k++)
		if (eor_knobs[k].opt == opt)
			return qt_parse_double(arg, eor_knobs[k].name,
					       eor_knobs[k].min, eor_knobs[k].max,
					       (double *)((char *)p + eor_knobs[k].off));
	return qt_error(QT_EINTERNAL, "option %d has no knob", opt);
}

/* A list "a,b,..." of 1 to max_n numbers in [min, max] into v[0 .. *n-1]. */
static int eor_parse_list(const char *arg, const char *name, double min,
			  double max, double *v, int max_n, int *n)
{
	char **items;
	int k, rc = qt_parse_list(arg, name, &items, &k);
	if (rc < 0)
		return rc;
	if (k > max_n)
		rc = qt_error(QT_EUSAGE, "%s: at most %d values", name, max_n);
	for (int i = 0; i < k && !rc; i++)
		rc = qt_parse_double(items[i], name, min, max, &v[i]);
	qt_free_list(items, k);
	*n = k;
	return rc;
}

static int eor_parse_zeta(qt_eor_params *p, const char *arg)
{
	double v[2];
	int n, rc = eor_parse_list(arg, "--zeta", 1, 1e4, v, 2, &n);
	if (rc == 0) {
		p->zeta_min = v[0];
		p->zeta_max = v[n - 1];
	}
	return rc;
}

static int eor_header(qt_header **hp, const qt_eor_params *p, uint64_t seed,
		      int64_t n)
{
	int64_t img[3] = {1, p->size, p->size};
	char list[QT_EOR_MAX_Z * 24] = "";
	qt_header *h = qt_header_new();
	int rc, step;

	if (!h)
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 0; i < p->nz; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list),
			 "%s%g", i ? "," : "", p->z[i]);
	if ((rc = qt_header_add_field(h, "maps", QT_F32, 3, img)) < 0 ||
	    (rc = qt_header_add_field(h, "xHI", QT_F32, 0, NULL)) < 0 ||
	    (rc = qt_header_add_field(h, "redshift", QT_F32, 0, NULL)) < 0 ||
	    (rc = qt_header_add_field(h, "zeta", QT_F32, 0, NULL)) < 0 ||
	    (rc = qt_header_add_field(h, "run", QT_I64, 0, NULL)) < 0 ||
	    (rc = step = qt_cli_provenance(h)) < 0 ||
	    (rc = qt_header_add_param(h, step, "workflow", "eor")) < 0 ||
	    (rc = qt_header_add_param(h, step, "generator", "sim/eor.c 1")) < 0 ||
	    (rc = param_int(h, step, "seed", (long long)seed)) < 0 ||
	    (rc = param_int(h, step, "samples", n)) < 0 ||
	    (rc = param_int(h, step, "size", p->size)) < 0 ||
	    (rc = param(h, step, "box", p->box)) < 0 ||
	    (rc = qt_header_add_param(h, step, "redshifts", list)) < 0 ||
	    (rc = param_int(h, step, "per_redshift", p->per_z)) < 0 ||
	    (rc = param(h, step, "zeta_min", p->zeta_min)) < 0 ||
	    (rc = param(h, step, "zeta_max", p->zeta_max)) < 0 ||
	    (rc = param(h, step, "tvir", p->tvir)) < 0 ||
	    (rc = param(h, step, "rmax", p->rmax)) < 0 ||
	    (rc = param(h, step, "rmin", p->rmin)) < 0 ||
	    (rc = param(h, step, "displacement", p->displacement)) < 0 ||
	    (rc = param(h, step, "nonlinear", p->nonlinear)) < 0 ||
	    (rc = param_int(h, step, "velocity", p->velocity)) < 0 ||
	    (rc = param(h, step, "residual", p->residual)) < 0) {
		qt_header_free(h);
		return rc;
	}
	*hp = h;
	return 0;
}

static int eor_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"samples", required_argument, 0, 'n'},
		{"batch", required_argument, 0, E_BATCH},
		{"seed", required_argument, 0, E_SEED},
		{"output", required_argument, 0, 'o'},
		{"threads", required_argument, 0, E_THREADS},
		{"size", required_argument, 0, E_SIZE},
		{"box", required_argument, 0, E_BOX},
		{"redshifts", required_argument, 0, E_Z},
		{"per-redshift", required_argument, 0, E_PERZ},
		{"zeta", required_argument, 0, E_ZETA},
		{"tvir", required_argument, 0, E_TVIR},
		{"rmax", required_argument, 0, E_RMAX},
		{"rmin", required_argument, 0, E_RMIN},
		{"displacement", required_argument, 0, E_DISP},
		{"nonlinear", required_argument, 0, E_NL},
		{"no-velocity", no_argument, 0, E_NOVEL},
		{"residual", required_argument, 0, E_RES},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	eor_ctx c = {.seed = 1};
	qt_eor_params p;
	long long n = 1000, batch = 100, seed = 1, threads = 0, size, perz;
	const char *out = "-";
	qt_header *h = NULL;
	int opt, rc = 0;

	qt_eor_params_default(&p);
	size = p.size;
	perz = p.per_z;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":n:o:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': rc = qt_parse_int(optarg, "--samples", 0, (long long)1e12, &n); break;
		case E_BATCH: rc = qt_parse_int(optarg, "--batch", 1, 1000000, &batch); break;
		case E_SEED: rc = qt_parse_int(optarg, "--seed", 0, INT64_MAX, &seed); break;
		case 'o': out = optarg; break;
		case E_THREADS: rc = qt_parse_int(optarg, "--threads", 0, 1024, &threads); break;
		case E_SIZE: rc = qt_parse_int(optarg, "--size", 0, 1 << 20, &size); break;
		case E_PERZ: rc = qt_parse_int(optarg, "--per-redshift", 1, 100000, &perz); break;
		case E_Z:
			rc = eor_parse_list(optarg, "--redshifts", 5, 30, p.z,
					    QT_EOR_MAX_Z, &p.nz);
			break;
		case E_ZETA: rc = eor_parse_zeta(&p, optarg); break;
		case E_NOVEL: p.velocity = 0; break;
		case 'h': return qt_cli_help(eor_help) ? 1 : qt_cli_finish(0);
		case 'V': return qt_cli_version() ? 1 : qt_cli_finish(0);
		case ':': return qt_cli_bad_option(argv, 1);
		case '?': return qt_cli_bad_option(argv, 0);
		default: rc = eor_parse_knob(&p, opt, optarg); break;
		}
		if (rc < 0)
			return qt_cli_usage("%s", qt_error_message(rc));
	}
	if (optind < argc)
		return qt_cli_usage("unexpected argument '%s'", argv[optind]);
	p.size = (int)size;
	p.per_z = (int)perz;
	c.seed = (uint64_t)seed;
	if ((rc = qt_eor_params_check(&p)) < 0)
		return qt_cli_usage("%s", qt_error_message(rc));
	if (batch * size * size * 4 > MAX_BATCH_BYTES)
		return qt_cli_usage("--batch: %lld maps of %lld x %lld take "
				    "over 1 GiB; lower --batch", batch, size, size);

	if ((rc = qt_eor_new(&c.g, &p)) == 0 &&
	    (rc = eor_header(&h, &p, c.seed, n)) == 0) {
		if (!(c.pool = qt_pool_new((int)threads)))
			rc = qt_error(QT_ENOMEM, "cannot start %lld threads "
				      "(lower --threads)", threads);
		else
			rc = emit(out, "eor", h, n, batch, eor_fill, &c);
	}
	qt_pool_free(c.pool);
	qt_header_free(h);
	qt_eor_free(c.g);
	return qt_cli_finish(rc);
}

/* ---- the workflow table ---- */

static const struct workflow {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} workflows[] = {
	{"jets", jets_main, "20x20 calorimeter jet images, classes g, q, t, w, z"},
	{"eor", eor_main, "200x200 21cm brightness maps of reionisation, label xHI"},
};
#define NWORKFLOWS (int)(sizeof workflows / sizeof workflows[0])

static void known(char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < NWORKFLOWS; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 i ? ", " : "", workflows[i].name);
}

static int help(void)
{
	printf("Usage: quanta simulate WORKFLOW [OPTIONS]\n"
	       "Simulated data for a workflow, as a quanta stream on stdout "
	       "or -o OUT.\n\nWorkflows:\n");
	for (int i = 0; i < NWORKFLOWS; i++)
		printf("  %-16s %s\n", workflows[i].name, workflows[i].summary);
	printf("\n'quanta simulate WORKFLOW --help' lists a workflow's options.\n"
	       "\nExample:\n"
	       "  quanta simulate jets -n 1000 --seed 3 -o jets.qs\n");
	return 0;
}

int main(int argc, char **argv)
{
	char list[256];
	qt_cli_init("simulate", argc, argv);
	known(list, sizeof list);
	if (argc < 2)
		return qt_cli_usage("missing WORKFLOW (known: %s)", list);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return help() ? 1 : qt_cli_finish(0);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return qt_cli_version() ? 1 : qt_cli_finish(0);
	if (argv[1][0] == '-')
		return qt_cli_usage("the WORKFLOW comes first: quanta simulate "
				    "WORKFLOW [OPTIONS] (known: %s)", list);
	for (int i = 0; i < NWORKFLOWS; i++)
		if (!strcmp(argv[1], workflows[i].name))
			return workflows[i].run(argc - 1, argv + 1);
	return qt_cli_usage("unknown workflow '%s' (known: %s)", argv[1], list);
}
