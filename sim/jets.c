/* jets.c: calorimeter jet images of gluon, quark, top, W and Z jets.
 *
 * The physics, in the order a jet is made (all momenta in GeV; the jet
 * is central, eta = 0, which loses nothing: eta differences, phi and pT
 * are invariant under boosts along the beam):
 *
 * 1. Jet pT uniform in [pt_min, pt_max], the same for every class, so the
 *    total intensity says nothing about the class.
 * 2. Hard partons.  g and q jets: one parton along the axis.  W and Z:
 *    a Breit-Wigner mass (PDG 2022: mW 80.38, GW 2.09; mZ 91.19,
 *    GZ 2.50), isotropic two-body decay to q q' in the rest frame, boosted
 *    exactly; the prongs are then ~ m / (pT sqrt(z (1-z))) apart
 *    (2m/pT at z = 1/2) with the momentum share z = (1 + beta cos)/2
 *    uniform, as for an unpolarised boson.  Top: mt 172.7, Gt 1.42,
 *    t -> b W then W -> q q', both two-body decays isotropic in their rest
 *    frames and boosted exactly (the three-body kinematics).  A boosted-
 *    object tagger's truth matching keeps decays whose prongs all lie
 *    within R - pixel of the axis; other decay angles are redrawn (at most
 *    MAX_TRIES times), which is the "cut" on z at low pT.
 * 3. Parton shower: the coherent branching (angular-ordered) algorithm in
 *    the soft-collinear approximation (Marchesini and Webber, Nucl. Phys.
 *    B310 (1988) 461; Ellis, Stirling and Webber, "QCD and collider
 *    physics", ch. 5).  A parton of colour factor C (CF = 4/3 quark,
 *    CA = 3 gluon) emits gluons with density
 *        dP = (alpha_s(kt) / pi) P(z) dz dtheta/theta,  kt = z theta pT,
 *    P -> 2C/z for soft gluons, so a gluon radiates CA/CF = 9/4 times as
 *    often as a quark: Casimir scaling of the soft multiplicity and of the
 *    jet width.  P(z) is the full q -> qg or g -> gg splitting function,
 *    alpha_s runs at one loop (alpha_s(mZ) = 0.118, five flavours) and
 *    emissions stop at kt = 1 GeV.  Angles are ordered: an emission at
 *    theta limits all later ones of the emitter and of the emitted gluon
 *    to theta.  Sampled with the veto algorithm (Sjostrand et al., PYTHIA
 *    6.4 manual, section 4.1.2), so the sample is exact for that density.
 *    Recoil keeps the pT-weighted (eta, phi) centroid of a branching fixed.
 *    The shower of a g or q jet starts at R; the decay products of a
 *    colour singlet (W, Z, and the W in a top) radiate only inside their
 *    opening angle (coherence), which is why their prongs are narrower
 *    than a gluon jet; the b of a top starts at R.
 * 4. Hadronisation: independent fragmentation in the Field-Feynman way
 *    (Nucl. Phys. B136 (1978) 1): each parton hands out hadrons that take
 *    a uniform fraction of what is left, until less than 0.5 GeV remains,
 *    each with a Gaussian transverse momentum of 0.35 GeV about the parton
 *    direction; hadron multiplicity grows like log(pT).
 * 5. Image: centred on the pT-weighted centroid of the particles within R
 *    of the axis (the jet-image preprocessing of de Oliveira, Kagan,
 *    Mackey, Nachman and Schwartzman, "Jet-images -- deep learning
 *    edition", JHEP 07 (2016) 069), binned in pixels of transverse
 *    momentum (0.1 x 0.1 by default: a hadronic calorimeter cell).
 * 6. Underlying event and pile-up: a Poisson number of soft particles
 *    (exponential pT of mean 0.5 GeV) spread uniformly over the window,
 *    ue_density GeV per unit area on average.
 * 7. Detector: each pixel's energy E = pT cosh(eta) is smeared by a
 *    Gaussian of sigma^2 = a^2 E + b^2 E^2 (a/sqrt(E) (+) b, hadronic
 *    calorimeter), Gaussian noise is added to every pixel, and pixels below
 *    the threshold are zero (zero suppression).
 * 8. Normalisation (optional, default): the image divided by its sum.
 *
 * The five classes and the 20 x 20 format follow the hls4ml LHC jet
 * dataset (Duarte et al., JINST 13 (2018) P07027; Coleman et al.,
 * JINST 13 (2018) T01003).
 */
#include "sim/jets.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CF (4.0 / 3.0)
#define CA 3.0
#define ALPHAS_MZ 0.118
#define MZ_RUN 91.1876
#define B0 ((33.0 - 2.0 * 5.0) / (12.0 * M_PI)) /* one loop, nf = 5 */
#define KT_CUT 1.0      /* GeV: shower cut-off */
#define THETA_MIN 0.01  /* below a tenth of a pixel nothing changes */
#define FRAG_STOP 0.5   /* GeV: fragmentation chain ends below this */
#define FRAG_KT 0.35    /* GeV: hadron transverse momentum to the parton */
#define UE_MEAN_PT 0.5  /* GeV: mean pT of an underlying-event particle */
#define MAX_TRIES 100   /* decay-angle redraws for containment */

#define M_W 80.379
#define G_W 2.085
#define M_Z 91.1876
#define G_Z 2.4952
#define M_T 172.76
#define G_T 1.42

#define MAX_PARTONS 1024
#define MAX_HADRONS 8192

const char *const qt_jet_class_names[QT_JET_NCLASSES] = {"g", "q", "t",
							  "w", "z"};

typedef struct particle {
	double pt, eta, phi;
} particle;

/* A parton waiting to shower: colour factor and the largest angle it may
 * still emit at. */
typedef struct parton {
	particle p;
	double colour, theta_max;
} parton;

struct qt_jet_work {
	parton stack[MAX_PARTONS];
	particle final[MAX_PARTONS];
	particle hadrons[MAX_HADRONS];
	int nstack, nfinal, nhadrons, nmade; /* nmade: partons ever made */
	double mass; /* mass of the decayed resonance; 0 for g and q jets */
};

typedef struct v4 {
	double e, x, y, z;
} v4;

int qt_jet_class_parse(const char *name)
{
	for (int c = 0; c < QT_JET_NCLASSES; c++)
		if (!strcmp(name, qt_jet_class_names[c]))
			return c;
	return -1;
}

void qt_jet_params_default(qt_jet_params *p)
{
	p->size = 20;
	p->pixel = 0.1;
	p->pt_min = 500;
	p->pt_max = 1000;
	p->radius = 0.8;
	p->ue_density = 0.5;
	p->stochastic = 0.5;
	p->constant = 0.03;
	p->noise = 0.1;
	p->threshold = 0.5;
	p->normalise = QT_JET_NORM_SUM;
}

int qt_jet_params_check(const qt_jet_params *p)
{
	if (p->size < 1 || p->size > 256)
		return qt_error(QT_EUSAGE, "--size: %d is outside [1, 256]",
				p->size);
	if (!(p->pixel > 0 && p->pixel <= 1))
		return qt_error(QT_EUSAGE, "--pixel: %g is outside (0, 1]",
				p->pixel);
	if (!(p->pt_min >= 20 && p->pt_max <= 1e5 && p->pt_min <= p->pt_max))
		return qt_error(QT_EUSAGE, "--pt-min %g is over --pt-max %g (both "
				"in [20, 100000] GeV)", p->pt_min,
				p->pt_max);
	if (!(p->radius > 0 && p->radius <= 3))
		return qt_error(QT_EUSAGE, "--radius: %g is outside (0, 3]",
				p->radius);
	if (!(p->ue_density >= 0 && p->ue_density <= 1000))
		return qt_error(QT_EUSAGE, "--ue: %g is outside [0, 1000]",
				p->ue_density);
	if (!(p->stochastic >= 0 && p->stochastic <= 10 && p->constant >= 0 &&
	      p->constant <= 1))
		return qt_error(QT_EUSAGE, "--resolution: a = %g must be in "
				"[0, 10] and b = %g in [0, 1]", p->stochastic,
				p->constant);
	if (!(p->noise >= 0 && p->noise <= 100))
		return qt_error(QT_EUSAGE, "--noise: %g is outside [0, 100]",
				p->noise);
	if (!(p->threshold >= 0 && p->threshold <= 1e4))
		return qt_error(QT_EUSAGE, "--threshold: %g is outside "
				"[0, 10000]", p->threshold);
	if ((unsigned)p->normalise > QT_JET_NORM_MAX)
		return qt_error(QT_EUSAGE, "--normalise: invalid mode");
	return 0;
}

qt_jet_work *qt_jet_work_new(void)
{
	qt_jet_work *w = malloc(sizeof *w);
	if (!w)
		qt_error(QT_ENOMEM, "out of memory for the jet generator");
	return w;
}

void qt_jet_work_free(qt_jet_work *w)
{
	free(w);
}

/* ---- kinematics ---- */

static double alpha_s(double kt)
{
	return ALPHAS_MZ /
	       (1.0 + B0 * ALPHAS_MZ * log(kt * kt / (MZ_RUN * MZ_RUN)));
}

/* Breit-Wigner mass truncated to m0 +- 5 width (inverse CDF). */
static double breit_wigner(qt_rng *rng, double m0, double width)
{
	double u = 2.0 * qt_rng_uniform(rng) - 1.0;
	return m0 + 0.5 * width * tan(u * atan(10.0));
}

static v4 boost(v4 v, double bx, double by, double bz)
{
	double b2 = bx * bx + by * by + bz * bz;
	double g = 1.0 / sqrt(1.0 - b2);
	double bp = bx * v.x + by * v.y + bz * v.z;
	double k = b2 > 0 ? (g - 1.0) * bp / b2 + g * v.e : 0;
	v4 r = {g * (v.e + bp), v.x + k * bx, v.y + k * by, v.z + k * bz};
	return r;
}

/* Two-body decay of P (mass M) to masses m1, m2, isotropic in the rest
 * frame, boosted to the frame of P. */
static void decay2(v4 *d1, v4 *d2, v4 P, double M, double m1, double m2,
		   qt_rng *rng)
{
	double s = (M * M - (m1 + m2) * (m1 + m2)) *
		   (M * M - (m1 - m2) * (m1 - m2));
	double q = s > 0 ? sqrt(s) / (2 * M) : 0;
	double ct = 2.0 * qt_rng_uniform(rng) - 1.0;
	double st = sqrt(fmax(0.0, 1.0 - ct * ct));
	double ph = 2.0 * M_PI * qt_rng_uniform(rng);
	double nx = st * cos(ph), ny = st * sin(ph), nz = ct;
	v4 a = {sqrt(q * q + m1 * m1), q * nx, q * ny, q * nz};
	v4 b = {sqrt(q * q + m2 * m2), -q * nx, -q * ny, -q * nz};
	*d1 = boost(a, P.x / P.e, P.y / P.e, P.z / P.e);
	*d2 = boost(b, P.x / P.e, P.y / P.e, P.z / P.e);
}

static particle to_particle(v4 v)
{
	particle p;
	p.pt = hypot(v.x, v.y);
	p.eta = p.pt > 0 ? asinh(v.z / p.pt) : 0;
	p.phi = atan2(v.y, v.x);
	return p;
}

static double dist(particle a, particle b)
{
	return hypot(a.eta - b.eta, a.phi - b.phi);
}

/* ---- shower and hadronisation ---- */

static void push(qt_jet_work *w, particle p, double colour, double theta)
{
	if (w->nstack >= MAX_PARTONS || w->nmade >= MAX_PARTONS)
		return; /* never reached with the checked parameters */
	w->stack[w->nstack].p = p;
	w->stack[w->nstack].colour = colour;
	w->stack[w->nstack].theta_max = theta;
	w->nstack++;
	w->nmade++;
}

/* Ratio of the splitting function to its soft limit 2C/z.  For g -> gg z
 * is the softer gluon (z <= 1/2), which counts each pair once. */
static double splitting_ratio(int gluon, double z)
{
	if (gluon)
		return z * z / (1 - z) + (1 - z) + z * z * (1 - z);
	return 0.5 * (1 + (1 - z) * (1 - z));
}

/* Shower one parton and everything it emits into w->final. */
static void shower_parton(qt_jet_work *w, parton a, qt_rng *rng)
{
	const double amax = alpha_s(KT_CUT);
	int gluon = a.colour == CA;
	double zhi = gluon ? 0.5 : 1.0, hmax = gluon ? 1.125 : 1.0;
	double theta = a.theta_max, pt = a.p.pt;

	for (;;) {
		double zlo = KT_CUT / (theta * pt), lnz, rate, z, kt, psi;
		if (theta <= THETA_MIN || zlo >= zhi)
			break;
		/* Overestimate: constant rate per unit log(1/theta), valid for
		 * every smaller theta (zlo only grows as theta falls). */
		lnz = log(zhi / zlo);
		rate = 2.0 * a.colour * amax * hmax * lnz / M_PI;
		theta *= exp(log(1.0 - qt_rng_uniform(rng)) / rate);
		z = zlo * exp(lnz * qt_rng_uniform(rng));
		kt = z * theta * pt;
		if (theta <= THETA_MIN || kt < KT_CUT)
			continue;
		if (qt_rng_uniform(rng) * amax * hmax >=
		    alpha_s(kt) * splitting_ratio(gluon, z))
			continue;
		psi = 2.0 * M_PI * qt_rng_uniform(rng);
		particle g = {z * pt, a.p.eta + (1 - z) * theta * cos(psi),
			      a.p.phi + (1 - z) * theta * sin(psi)};
		a.p.eta -= z * theta * cos(psi);
		a.p.phi -= z * theta * sin(psi);
		pt *= 1 - z;
		push(w, g, CA, theta);
	}
	a.p.pt = pt;
	w->final[w->nfinal++] = a.p;
}

static void shower(qt_jet_work *w, qt_rng *rng)
{
	w->nfinal = 0;
	while (w->nstack > 0) {
		parton a = w->stack[--w->nstack];
		shower_parton(w, a, rng);
	}
}

static void add_hadron(qt_jet_work *w, particle parent, double pt,
		       qt_rng *rng)
{
	double s = FRAG_KT / pt, de, dp, d;
	particle h = parent;
	if (w->nhadrons >= MAX_HADRONS)
		return;
	de = s * qt_rng_normal(rng);
	dp = s * qt_rng_normal(rng);
	d = hypot(de, dp);
	if (d > 1.0) { /* a hadron far off its parton: keep it near */
		de /= d;
		dp /= d;
	}
	h.pt = pt;
	h.eta += de;
	h.phi += dp;
	w->hadrons[w->nhadrons++] = h;
}

static void hadronise(qt_jet_work *w, qt_rng *rng)
{
	w->nhadrons = 0;
	for (int i = 0; i < w->nfinal; i++) {
		double left = w->final[i].pt;
		while (left > FRAG_STOP && w->nhadrons < MAX_HADRONS - 1) {
			double take = left * qt_rng_uniform(rng);
			if (take > 0)
				add_hadron(w, w->final[i], take, rng);
			left -= take;
		}
		if (left > 0)
			add_hadron(w, w->final[i], left, rng);
	}
}

/* ---- the hard process ---- */

static int contained(const particle *p, int n, double rmax)
{
	const particle axis = {0, 0, 0};
	for (int i = 0; i < n; i++)
		if (dist(p[i], axis) >= rmax)
			return 0;
	return 1;
}

static void hard_process(qt_jet_work *w, int cls, double pt, double R,
			 double pixel, qt_rng *rng)
{
	double rmax = fmax(R - pixel, 0.5 * R);
	particle q[3];
	w->nstack = 0;
	w->nmade = 0;
	w->mass = 0;
	if (cls == QT_JET_G || cls == QT_JET_Q) {
		particle p = {pt, 0, 0};
		push(w, p, cls == QT_JET_G ? CA : CF, R);
		return;
	}
	if (cls == QT_JET_W || cls == QT_JET_Z) {
		double m = cls == QT_JET_W ? breit_wigner(rng, M_W, G_W)
					   : breit_wigner(rng, M_Z, G_Z);
		v4 P = {sqrt(pt * pt + m * m), pt, 0, 0}, d1, d2;
		for (int t = 0; t < MAX_TRIES; t++) {
			decay2(&d1, &d2, P, m, 0, 0, rng);
			q[0] = to_particle(d1);
			q[1] = to_particle(d2);
			if (contained(q, 2, rmax))
				break;
		}
		double open = fmin(dist(q[0], q[1]), R);
		w->mass = m;
		push(w, q[0], CF, open);
		push(w, q[1], CF, open);
		return;
	}
	/* top: t -> b W, W -> q q' */
	double mt = breit_wigner(rng, M_T, G_T);
	double mw = breit_wigner(rng, M_W, G_W);
	v4 P = {sqrt(pt * pt + mt * mt), pt, 0, 0}, b, W, d1, d2;
	for (int t = 0; t < MAX_TRIES; t++) {
		decay2(&b, &W, P, mt, 0, mw, rng);
		decay2(&d1, &d2, W, mw, 0, 0, rng);
		q[0] = to_particle(b);
		q[1] = to_particle(d1);
		q[2] = to_particle(d2);
		if (contained(q, 3, rmax))
			break;
	}
	double open = fmin(dist(q[1], q[2]), R);
	w->mass = mt;
	push(w, q[0], CF, R);
	push(w, q[1], CF, open);
	push(w, q[2], CF, open);
}

/* ---- image ---- */

/* Mass and pT of massless particles at (eta, phi). */
static void add_v4(v4 *s, double pt, double eta, double phi)
{
	s->e += pt * cosh(eta);
	s->x += pt * cos(phi);
	s->y += pt * sin(phi);
	s->z += pt * sinh(eta);
}

static double v4_mass(v4 s)
{
	double m2 = s.e * s.e - s.x * s.x - s.y * s.y - s.z * s.z;
	return m2 > 0 ? sqrt(m2) : 0;
}

/* Recoil inside a decay: the showers of the decay products made them
 * massive, so the products of a resonance of mass M would weigh more than
 * M.  Shrink their angular distances to the common pT-weighted centroid
 * until the invariant mass is M again (m^2 ~ sum pT_i pT_j dR_ij^2, so a
 * scale f changes m by about f), as a shower that conserves the
 * resonance's four-momentum would. */
static void restore_mass(qt_jet_work *w)
{
	double ce = 0, cp = 0, sw = 0;
	if (w->mass <= 0 || w->nhadrons < 2)
		return;
	for (int i = 0; i < w->nhadrons; i++) {
		ce += w->hadrons[i].pt * w->hadrons[i].eta;
		cp += w->hadrons[i].pt * w->hadrons[i].phi;
		sw += w->hadrons[i].pt;
	}
	ce /= sw;
	cp /= sw;
	for (int iter = 0; iter < 3; iter++) {
		v4 s = {0, 0, 0, 0};
		double m, f;
		for (int i = 0; i < w->nhadrons; i++)
			add_v4(&s, w->hadrons[i].pt, w->hadrons[i].eta,
			       w->hadrons[i].phi);
		m = v4_mass(s);
		if (!(m > 0))
			return;
		f = w->mass / m;
		for (int i = 0; i < w->nhadrons; i++) {
			particle *h = &w->hadrons[i];
			h->eta = ce + f * (h->eta - ce);
			h->phi = cp + f * (h->phi - cp);
		}
	}
}

/* Pixel index of coordinate x in [-half, half), or -1. */
static int pixel_of(double x, double half, double pixel, int size)
{
	double f = (x + half) / pixel;
	if (!(f >= 0) || f >= size)
		return -1;
	return (int)f;
}

static void detector(float *image, const qt_jet_params *p, qt_rng *rng)
{
	int S = p->size;
	double half = 0.5 * S * p->pixel;
	for (int c = 0; c < S; c++) {
		double ch = cosh((c + 0.5) * p->pixel - half);
		for (int r = 0; r < S; r++) {
			double v = image[r * S + c];
			if (v > 0 && (p->stochastic > 0 || p->constant > 0)) {
				double e = v * ch;
				double sig = sqrt(p->stochastic * p->stochastic * e +
						  p->constant * p->constant * e * e);
				v = (e + sig * qt_rng_normal(rng)) / ch;
			}
			if (p->noise > 0)
				v += p->noise * qt_rng_normal(rng);
			image[r * S + c] = v > p->threshold && v > 0 ? (float)v : 0.0f;
		}
	}
}

static void normalise(float *image, int n, enum qt_jet_norm mode)
{
	double s = 0;
	if (mode == QT_JET_NORM_NONE)
		return;
	for (int i = 0; i < n; i++)
		s = mode == QT_JET_NORM_SUM ? s + image[i] : fmax(s, image[i]);
	if (s > 0)
		for (int i = 0; i < n; i++)
			image[i] = (float)(image[i] / s);
}

int qt_jet_generate(float *image, qt_jet_truth *truth,
		    const qt_jet_params *p, int cls, qt_rng *rng,
		    qt_jet_work *w)
{
	int S = p->size;
	double half = 0.5 * S * p->pixel, pt, ce = 0, cp = 0, sw = 0;
	v4 sum = {0, 0, 0, 0};
	uint64_t nue;

	if (cls < 0 || cls >= QT_JET_NCLASSES)
		return qt_error(QT_EUSAGE, "no jet class %d", cls);
	pt = p->pt_min + (p->pt_max - p->pt_min) * qt_rng_uniform(rng);
	hard_process(w, cls, pt, p->radius, p->pixel, rng);
	shower(w, rng);
	hadronise(w, rng);
	restore_mass(w);

	/* Centre on the pT-weighted centroid of the jet (particles within R). */
	for (int i = 0; i < w->nhadrons; i++) {
		const particle *h = &w->hadrons[i];
		if (hypot(h->eta, h->phi) < p->radius) {
			ce += h->pt * h->eta;
			cp += h->pt * h->phi;
			sw += h->pt;
		}
	}
	if (sw > 0) {
		ce /= sw;
		cp /= sw;
	}

	memset(image, 0, (size_t)S * S * sizeof *image);
	for (int i = 0; i < w->nhadrons; i++) {
		const particle *h = &w->hadrons[i];
		double eta = h->eta - ce, phi = h->phi - cp;
		int c = pixel_of(eta, half, p->pixel, S);
		int r = pixel_of(phi, half, p->pixel, S);
		if (r < 0 || c < 0)
			continue;
		image[r * S + c] += (float)h->pt;
		add_v4(&sum, h->pt, eta, phi);
	}
	if (truth) {
		truth->pt = (float)hypot(sum.x, sum.y);
		truth->mass = (float)v4_mass(sum);
	}

	nue = qt_rng_poisson(rng, p->ue_density * 4 * half * half / UE_MEAN_PT);
	for (uint64_t k = 0; k < nue; k++) {
		double upt = -UE_MEAN_PT * log(1.0 - qt_rng_uniform(rng));
		int c = (int)qt_rng_below(rng, (uint64_t)S);
		int r = (int)qt_rng_below(rng, (uint64_t)S);
		image[r * S + c] += (float)upt;
	}

	detector(image, p, rng);
	normalise(image, S * S, p->normalise);
	return 0;
}

int qt_jets_fill(float *images, int64_t *labels, float *pt, float *mass,
		 int64_t first, int64_t n, uint64_t seed, const int *classes,
		 int nclasses, const qt_jet_params *p)
{
	int64_t npix = (int64_t)p->size * p->size;
	qt_jet_work *w;
	int rc = qt_jet_params_check(p);
	if (rc < 0)
		return rc;
	if (nclasses < 1 || nclasses > QT_JET_NCLASSES)
		return qt_error(QT_EUSAGE, "--classes: need 1 to %d classes",
				QT_JET_NCLASSES);
	for (int k = 0; k < nclasses; k++)
		if (classes[k] < 0 || classes[k] >= QT_JET_NCLASSES)
			return qt_error(QT_EUSAGE, "no jet class %d", classes[k]);
	if (!(w = qt_jet_work_new()))
		return QT_ENOMEM;
	for (int64_t i = 0; i < n; i++) {
		qt_rng rng;
		qt_jet_truth t;
		int k;
		qt_rng_seed(&rng, seed, (uint64_t)(first + i));
		k = (int)qt_rng_below(&rng, (uint64_t)nclasses);
		qt_jet_generate(images + i * npix, &t, p, classes[k], &rng, w);
		labels[i] = k;
		if (pt)
			pt[i] = t.pt;
		if (mass)
			mass[i] = t.mass;
	}
	qt_jet_work_free(w);
	return 0;
}

double qt_jet_image_mass(const float *image, int size, double pixel)
{
	double half = 0.5 * size * pixel;
	v4 s = {0, 0, 0, 0};
	for (int r = 0; r < size; r++)
		for (int c = 0; c < size; c++)
			if (image[r * size + c] > 0)
				add_v4(&s, image[r * size + c],
				       (c + 0.5) * pixel - half,
				       (r + 0.5) * pixel - half);
	return v4_mass(s);
}

double qt_jet_image_width(const float *image, int size, double pixel)
{
	double half = 0.5 * size * pixel, num = 0, den = 0;
	for (int r = 0; r < size; r++)
		for (int c = 0; c < size; c++) {
			double v = image[r * size + c];
			if (v > 0) {
				num += v * hypot((c + 0.5) * pixel - half,
						 (r + 0.5) * pixel - half);
				den += v;
			}
		}
	return den > 0 ? num / den : 0;
}
