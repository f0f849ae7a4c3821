/* eor.c: 21cm brightness maps of the epoch of reionisation, made the
 * semi-numerical way (21cmFAST: Mesinger, Furlanetto and Cen, MNRAS 411
 * (2011) 955; SimFast21: Santos et al., MNRAS 406 (2010) 2421).
 *
 * The model, in the order a map is made (lengths comoving Mpc, no h):
 *
 * 1. Cosmology: flat LCDM, Planck 2018 (h 0.6766, Om 0.3111, Ob 0.0490,
 *    ns 0.9665, sigma8 0.8102).  Linear power P(k) = A k^ns T(k)^2 with
 *    the no-wiggle transfer function of Eisenstein and Hu (ApJ 496 (1998)
 *    605, eqs. 26-31), normalised to sigma8; growth D(z) from the integral
 *    D ~ H(a) int da / (a H)^3 (Heath 1977), D(0) = 1.
 *
 * 2. The map is the plane z = 0 of a 3D Gaussian field that is periodic in
 *    x and y (side `box`) and infinite along the line of sight, without
 *    modes longer than the box (|k| >= 2 pi / box, as in a simulation box).
 *    A plane cut through a 3D field is a 2D Gaussian field whose power at
 *    k_perp is the line-of-sight integral (1/pi) int_0^inf P(sqrt(k_perp^2
 *    + kz^2)) dkz, which is cheap; but the excursion set needs the field
 *    smoothed with 3D spheres of many radii, and those are correlated
 *    across radii in a way no single 2D field captures.  So the 3D modes
 *    are split into thin shells in |k| (ratio SHELL_RATIO): shell i holds
 *    the modes with k_i <= |k| < k_i+1, and on the plane it is a 2D field
 *    s_i with power P_i(k_perp) = (1/pi) int_{kz in shell} P dkz.  The
 *    shells are independent, and the field smoothed with a top-hat of
 *    radius R is, to the accuracy of the shell width, the sum over shells
 *    of W(k_i R) s_i, with W(x) = 3 (sin x - x cos x) / x^3.  One 2D
 *    inverse FFT per radius gives the smoothed plane: the statistics of a
 *    slice through a 3D excursion-set simulation at 2D cost.  Shells
 *    end at 2 pi / cell, where the cell's own window has removed them; the
 *    cell-scale field is the last radius, the sphere of the cell's volume.
 *
 * 3. Ionisation: the excursion-set criterion of Furlanetto, Zaldarriaga and
 *    Hernquist (ApJ 613 (2004) 1): smoothing from rmax down to the cell
 *    (radii falling by RADIUS_RATIO, 21cmFAST's 1.1), a sphere of radius R
 *    around a cell is ionised if
 *        zeta fcoll(x, R) >= 1,
 *        fcoll(x, R) = erfc((delta_c - delta_R(x)) / sqrt(2 (s_min^2 - s_R^2)))
 *    (the extended Press-Schechter conditional collapse fraction into halos
 *    above Mmin, s = sigma at z, delta_c = 1.686), i.e. if delta_R reaches
 *    the barrier delta_c - sqrt(2 (s_min^2 - s_R^2)) erfc^-1(1 / zeta).
 *    The whole sphere is ionised, as SimFast21 does (its cut by the plane
 *    is a disc of radius R); only spheres centred in the plane are found.
 *    Cells no sphere covers stay neutral (SimFast21; 21cmFAST would
 *    ionise them partly by their own collapse fraction).  Mmin is the halo
 *    mass of virial temperature tvir (Barkana and Loeb, Phys. Rep. 349
 *    (2001) 125, eq. 26, mu = 1.22).  zeta stands for fesc f* Nion /
 *    (1 + nrec); a run draws it log-uniform in [zeta_min, zeta_max], the
 *    scatter of histories that SimFast21's varied escape fraction gives
 *    (zeta ~ 60 fesc matches its three runs).
 *
 * 4. Ionised gas keeps a residual neutral fraction: in photoionisation
 *    equilibrium x_HI = alpha_B n_H / Gamma.  With n_H ~ (1 + delta)
 *    (1 + z)^3 and the photoionisation rate taken proportional to the
 *    ionising budget zeta fcoll(z),
 *        x_res = residual (1 + delta) ((1 + z) / 9)^3 / (zeta fcoll(z)),
 *    which falls with time and with zeta as SimFast21's does.
 *
 * 5. The density the brightness sees is Eulerian and nonlinear.  Its
 *    Gaussian parent keeps the linear phases on large scales only: shell
 *    i carries g A_i + sqrt(1 - g^2) C_i, with A the linear amplitudes, C
 *    independent ones and g = exp(-k^2 s_psi^2 / 2) the propagator of
 *    perturbation theory (Crocce and Scoccimarro, PRD 73 (2006) 063519),
 *    s_psi the 1D rms linear displacement times `displacement`; this is
 *    what keeps dense filaments next to bubbles, as the SimFast21 maps
 *    show.  The line-of-sight velocity gradient multiplies each shell by
 *    1 + f mu^2 (linear theory, Kaiser 1987; f = Om(z)^0.55), and the
 *    result is made log-normal, 1 + delta = exp(b dG - b^2 sG^2 / 2)
 *    with b = `nonlinear` (Coles and Jones, MNRAS 248 (1991) 1): the
 *    mean is kept and overdense cells get the skewed tail.
 *
 * 6. dTb = T0(z) x_HI (1 + delta), T0 = 27 mK (Ob h^2 / 0.023)
 *    ((0.15 / Om h^2) (1 + z) / 10)^(1/2) (Furlanetto, Oh and Briggs,
 *    Phys. Rep. 433 (2006) 181, eq. 2.45), spin temperature far above the
 *    CMB's.
 *
 * Determinism: FFTW plans are made once with FFTW_ESTIMATE (the same
 * algorithm every run; FFTW_MEASURE could pick another and change the
 * last bits), and each map is made on one thread from its own qt_rng
 * streams.
 */
#include "sim/eor.h"
#include "common/error.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Planck 2018 (TT,TE,EE+lowE+lensing), flat, radiation neglected. */
#define H_LITTLE 0.6766
#define OMEGA_M 0.3111
#define OMEGA_B 0.0490
#define N_S 0.9665
#define SIGMA_8 0.8102
#define T_CMB 2.7255
#define RHO_CRIT 2.775e11 /* h^2 Msun / Mpc^3 */
#define DELTA_C 1.686
#define MU_NEUTRAL 1.22   /* mean molecular weight of neutral gas */

#define SHELL_RATIO 1.1   /* k_i+1 / k_i of the shells */
#define RADIUS_RATIO 1.1  /* R_j / R_j+1 of the excursion-set radii */
#define KR_CUT 8.0        /* shells with k R above this are dropped at R */
#define GL_POINTS 8       /* Gauss-Legendre points of a shell's kz integral */
#define SIGMA_POINTS 4000 /* ln k points of a sigma(R) integral */
#define PAINT_LIMIT 4.0   /* paint discs directly below this cost a cell */
#define MAX_SHELLS 128    /* ln(1024) / ln(SHELL_RATIO) = 73 at most */

/* ---- cosmology ---- */

static double pk_norm; /* A of P(k) = A k^ns T^2, set once */
static pthread_once_t pk_once = PTHREAD_ONCE_INIT;

/* Eisenstein and Hu (1998) no-wiggle transfer function, k in 1/Mpc. */
static double transfer(double k)
{
	double h = H_LITTLE, om = OMEGA_M * h * h, ob = OMEGA_B * h * h;
	double fb = OMEGA_B / OMEGA_M, theta = T_CMB / 2.7;
	double s = 44.5 * log(9.83 / om) / sqrt(1 + 10 * pow(ob, 0.75));
	double ag = 1 - 0.328 * log(431 * om) * fb +
		    0.38 * log(22.3 * om) * fb * fb;
	double ks4 = pow(0.43 * k * s, 4);
	double gamma = OMEGA_M * h * (ag + (1 - ag) / (1 + ks4));
	double q = k * theta * theta / (gamma * h);
	double l0 = log(2 * M_E + 1.8 * q);
	double c0 = 14.2 + 731 / (1 + 62.5 * q);
	return l0 / (l0 + c0 * q * q);
}

static double tophat(double x)
{
	if (x < 1e-3)
		return 1 - x * x / 10;
	return 3 * (sin(x) - x * cos(x)) / (x * x * x);
}

static double pk_shape(double k)
{
	double t = transfer(k);
	return pow(k, N_S) * t * t;
}

/* sigma^2 of P(k) = A shape(k) in a top-hat of radius r: trapezoid in
 * ln k over [1e-5, 1e4] / Mpc. */
static double sigma2_shape(double r, double a)
{
	double lo = log(1e-5), hi = log(1e4), d = (hi - lo) / SIGMA_POINTS;
	double s = 0;
	for (int i = 0; i <= SIGMA_POINTS; i++) {
		double k = exp(lo + i * d), w = tophat(k * r);
		double f = k * k * k * a * pk_shape(k) * w * w;
		s += (i == 0 || i == SIGMA_POINTS) ? f / 2 : f;
	}
	return s * d / (2 * M_PI * M_PI);
}

static void pk_init(void)
{
	pk_norm = SIGMA_8 * SIGMA_8 / sigma2_shape(8 / H_LITTLE, 1);
}

double qt_eor_power(double k)
{
	pthread_once(&pk_once, pk_init);
	return k > 0 ? pk_norm * pk_shape(k) : 0;
}

double qt_eor_sigma(double r)
{
	pthread_once(&pk_once, pk_init);
	return sqrt(sigma2_shape(r, pk_norm));
}

/* 1D rms displacement of the linear field at z = 0, Mpc: sigma_psi^2 =
 * (1 / 6 pi^2) int P(k) dk. */
static double sigma_psi(void)
{
	double lo = log(1e-5), hi = log(1e4), d = (hi - lo) / SIGMA_POINTS;
	double s = 0;
	for (int i = 0; i <= SIGMA_POINTS; i++) {
		double k = exp(lo + i * d), f = k * qt_eor_power(k);
		s += (i == 0 || i == SIGMA_POINTS) ? f / 2 : f;
	}
	return sqrt(s * d / (6 * M_PI * M_PI));
}

static double hubble_e(double a)
{
	return sqrt(OMEGA_M / (a * a * a) + (1 - OMEGA_M));
}

/* Unnormalised D(a) = E(a) int_0^a da' / (a' E(a'))^3 (Simpson). */
static double growth_raw(double a)
{
	int n = 2000;
	double h = a / n, s = 0;
	for (int i = 1; i <= n; i++) {
		double x = i * h, f = 1 / pow(x * hubble_e(x), 3);
		s += (i == n) ? f : (i % 2 ? 4 * f : 2 * f);
	}
	/* the integrand vanishes at a' = 0 (it goes like a'^(3/2)) */
	return hubble_e(a) * s * h / 3;
}

double qt_eor_growth(double z)
{
	return growth_raw(1 / (1 + z)) / growth_raw(1);
}

double qt_eor_mmin(double tvir, double z)
{
	double omz = OMEGA_M * pow(1 + z, 3) /
		     (OMEGA_M * pow(1 + z, 3) + 1 - OMEGA_M);
	double d = omz - 1, dc = 18 * M_PI * M_PI + 82 * d - 39 * d * d;
	return 1e8 / H_LITTLE * pow(MU_NEUTRAL / 0.6, -1.5) *
	       pow(OMEGA_M / omz * dc / (18 * M_PI * M_PI), -0.5) *
	       pow(tvir / 1.98e4, 1.5) * pow((1 + z) / 10, -1.5);
}

static double radius_of_mass(double m)
{
	double rho = RHO_CRIT * H_LITTLE * H_LITTLE * OMEGA_M;
	return cbrt(3 * m / (4 * M_PI * rho));
}

double qt_eor_fcoll(double tvir, double z)
{
	double s = qt_eor_sigma(radius_of_mass(qt_eor_mmin(tvir, z)));
	return erfc(DELTA_C / (M_SQRT2 * qt_eor_growth(z) * s));
}

double qt_eor_t0(double z)
{
	double h2 = H_LITTLE * H_LITTLE;
	return 27.0 * (OMEGA_B * h2 / 0.023) *
	       sqrt(0.15 / (OMEGA_M * h2) * (1 + z) / 10);
}

/* erfc^-1(x) for x in (0, 1]: bisection on [0, 10] (once per map). */
static double erfcinv(double x)
{
	double lo = 0, hi = 10;
	for (int i = 0; i < 64; i++) {
		double mid = (lo + hi) / 2;
		if (erfc(mid) > x)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* ---- normal deviates ---- */

/* Standard normal deviates by the ziggurat method (Marsaglia and Tsang,
 * J. Stat. Softw. 5 (2000) 8), 128 layers, with Doornik's (2005) fix: the
 * layer comes from the low 7 bits of a 32-bit word and the value from the
 * other 25, so the two are independent.  The amplitude draws are most of
 * a map's cost, and this is about four times faster than a polar or
 * Box-Muller deviate; 99% of draws take one word, a compare and a
 * multiply.  The tables are made once with exp and log, so the values
 * depend on the C library only through them. */
#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3
#define ZIG_M 16777216.0 /* 2^24: |value| < 2^24 */

static uint32_t zig_k[128];
static float zig_w[128], zig_f[128];
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_init(void)
{
	double dn = ZIG_R, tn = dn, q = ZIG_V / exp(-0.5 * dn * dn);
	zig_k[0] = (uint32_t)(dn / q * ZIG_M);
	zig_k[1] = 0;
	zig_w[0] = (float)(q / ZIG_M);
	zig_w[127] = (float)(dn / ZIG_M);
	zig_f[0] = 1;
	zig_f[127] = (float)exp(-0.5 * dn * dn);
	for (int i = 126; i >= 1; i--) {
		dn = sqrt(-2 * log(ZIG_V / dn + exp(-0.5 * dn * dn)));
		zig_k[i + 1] = (uint32_t)(dn / tn * ZIG_M);
		tn = dn;
		zig_f[i] = (float)exp(-0.5 * dn * dn);
		zig_w[i] = (float)(dn / ZIG_M);
	}
}

static float uniform_open(qt_rng *rng)
{
	return ((float)(qt_rng_u32(rng) >> 8) + 0.5f) * 0x1p-24f;
}

static float normal(qt_rng *rng)
{
	for (;;) {
		uint32_t u = qt_rng_u32(rng);
		int iz = (int)(u & 127);
		int32_t hz = (int32_t)u >> 7;
		float x = (float)hz * zig_w[iz];
		if ((uint32_t)(hz < 0 ? -hz : hz) < zig_k[iz])
			return x;
		if (iz == 0) { /* the tail beyond R */
			float a, b;
			do {
				a = -logf(uniform_open(rng)) / (float)ZIG_R;
				b = -logf(uniform_open(rng));
			} while (b + b < a * a);
			return hz > 0 ? (float)ZIG_R + a : -(float)ZIG_R - a;
		}
		if (zig_f[iz] + uniform_open(rng) * (zig_f[iz - 1] - zig_f[iz]) <
		    expf(-0.5f * x * x))
			return x;
	}
}

/* ---- the generator ---- */

struct qt_eor {
	qt_eor_params p;
	int S, nmodes;      /* modes: S rows (ky) x (S/2 + 1) columns (kx) */
	double area;        /* box^2 */
	int nshell;
	double *kedge;      /* (nshell + 1) */
	int *i0;            /* (nmodes) first shell of a mode */
	int64_t *off;       /* (nmodes + 1) offset of a mode's shells in sd */
	float *sd;          /* (off[nmodes]) amplitude rms of (mode, shell) */
	float *mu2;         /* (off[nmodes]) its mean (kz / k)^2 */
	unsigned char *kind;/* (nmodes) 0 draw complex, 1 draw real, 2 mirror */
	int nr;             /* radii, largest first; the last is the cell */
	double *radius;     /* (nr) */
	double *sig2;       /* (nr) full sigma^2(R) at z = 0 */
	int *iend;          /* (nr) shells used at radius j */
	float *weight;      /* (nr, nshell) W(k_i R_j) */
	double sig2_cell;   /* variance of the drawn cell-scale field, z = 0 */
	double sigma_psi;   /* 1D rms linear displacement at z = 0, Mpc */
	double cov_mu2[2];  /* its covariance with the mu^2 field, and the
			     * latter's variance */
	double zd[QT_EOR_MAX_Z], zsmin[QT_EOR_MAX_Z]; /* D and sigma(Mmin) of p.z */
	int64_t *disc_off;  /* (nr + 1) offsets into disc_row */
	int16_t *disc_row;  /* (disc_off[nr], 2) rows (dy, w) of the disc of
			     * radius j: cells dy, -w .. w around the centre */
	int64_t *disc_area; /* (nr) cells of a disc */
	float *disc_ft;     /* (nr, nmodes) its Fourier transform / S^2 (real) */
	fftwf_plan plan;    /* c2r S x S */
	fftwf_plan plan_fwd;/* r2c S x S */
};

struct qt_eor_work {
	fftwf_complex *amp;  /* (off[nmodes]) this map's shell amplitudes */
	fftwf_complex *amp_c;/* (off[nmodes]) independent small-scale phases */
	fftwf_complex *spec; /* (nmodes) */
	float *field;        /* (S, S) smoothed field */
	float *cell;         /* (S, S) the brightness's Gaussian field, z = 0 */
	float *mask;         /* (S, S) bubble centres at one radius */
	fftwf_complex *mspec;/* (nmodes) */
	unsigned char *ion;  /* (S, S) */
	unsigned char *done; /* (S, S) cells already used as bubble centres */
};

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* Growth factor and sigma(Mmin) at z = 0 for redshift z. */
static void growth_and_smin(const qt_eor *g, double z, double *d, double *smin)
{
	*d = qt_eor_growth(z);
	*smin = qt_eor_sigma(radius_of_mass(qt_eor_mmin(g->p.tvir, z)));
}

void qt_eor_params_default(qt_eor_params *p)
{
	static const double z[] = {10, 9.5, 9, 8.5, 8};
	memset(p, 0, sizeof *p);
	p->size = 200;
	p->box = 150;
	p->nz = 5;
	memcpy(p->z, z, sizeof z);
	p->per_z = 4;
	p->zeta_min = 8;
	p->zeta_max = 32;
	p->tvir = 1e4;
	p->rmax = 30;
	p->rmin = 0;
	p->nonlinear = 1;
	p->velocity = 1;
	p->displacement = 4;
	p->residual = 2e-3;
}

int qt_eor_params_check(const qt_eor_params *p)
{
	if (p->size < 8 || p->size > 1024 || p->size % 2)
		return qt_error(QT_EUSAGE, "--size: %d must be an even number "
				"in [8, 1024]", p->size);
	if (!(p->box >= 1 && p->box <= 1e5))
		return qt_error(QT_EUSAGE, "--box: %g Mpc is outside [1, 100000]",
				p->box);
	if (p->nz < 1 || p->nz > QT_EOR_MAX_Z)
		return qt_error(QT_EUSAGE, "--redshifts: need 1 to %d redshifts",
				QT_EOR_MAX_Z);
	for (int i = 0; i < p->nz; i++)
		if (!(p->z[i] >= 5 && p->z[i] <= 30))
			return qt_error(QT_EUSAGE, "--redshifts: %g is outside "
					"[5, 30]", p->z[i]);
	if (p->per_z < 1 || p->per_z > 100000)
		return qt_error(QT_EUSAGE, "--per-redshift: %d is outside "
				"[1, 100000]", p->per_z);
	if (!(p->zeta_min >= 1 && p->zeta_max <= 1e4 &&
	      p->zeta_min <= p->zeta_max))
		return qt_error(QT_EUSAGE, "--zeta: %g,%g must be increasing and "
				"in [1, 10000]", p->zeta_min, p->zeta_max);
	if (!(p->tvir >= 1e2 && p->tvir <= 1e7))
		return qt_error(QT_EUSAGE, "--tvir: %g K is outside [100, 1e7]",
				p->tvir);
	if (!(p->rmax > 0 && p->rmax <= p->box))
		return qt_error(QT_EUSAGE, "--rmax: %g Mpc must be positive and "
				"at most --box (%g)", p->rmax, p->box);
	if (!(p->rmin >= 0 && p->rmin <= p->rmax))
		return qt_error(QT_EUSAGE, "--rmin: %g Mpc must be in [0, --rmax "
				"(%g)]", p->rmin, p->rmax);
	if (!(p->nonlinear >= 0 && p->nonlinear <= 5))
		return qt_error(QT_EUSAGE, "--nonlinear: %g is outside [0, 5]",
				p->nonlinear);
	if (!(p->displacement >= 0 && p->displacement <= 10))
		return qt_error(QT_EUSAGE, "--displacement: %g is outside [0, 10]",
				p->displacement);
	if (!(p->residual >= 0 && p->residual <= 1))
		return qt_error(QT_EUSAGE, "--residual: %g is outside [0, 1]",
				p->residual);
	return 0;
}

const qt_eor_params *qt_eor_params_of(const qt_eor *g)
{
	return &g->p;
}

/* |k_perp| of mode m (row ky, column kx of the r2c layout). */
static double mode_k(const qt_eor *g, int m)
{
	int S = g->S, ky = m / (S / 2 + 1), kx = m % (S / 2 + 1);
	double kf = 2 * M_PI / g->p.box;
	if (ky > S / 2)
		ky -= S;
	return kf * hypot(kx, ky);
}

/* (1/pi) int P(sqrt(kp^2 + kz^2)) dkz over the kz of shell [ka, kb), and
 * the power-weighted mean of mu^2 = kz^2 / k^2 there (into *mu2 unless
 * NULL). */
static double shell_power(double kp, double ka, double kb, double *mu2)
{
	static const double x[GL_POINTS] = {
		-0.9602898564975363, -0.7966664774136267, -0.5255324099163290,
		-0.1834346424956498, 0.1834346424956498, 0.5255324099163290,
		0.7966664774136267, 0.9602898564975363};
	static const double w[GL_POINTS] = {
		0.1012285362903763, 0.2223810344533745, 0.3137066371691479,
		0.3626837833783620, 0.3626837833783620, 0.3137066371691479,
		0.2223810344533745, 0.1012285362903763};
	double lo = ka > kp ? sqrt(ka * ka - kp * kp) : 0;
	double hi = kb > kp ? sqrt(kb * kb - kp * kp) : 0;
	double c = (hi + lo) / 2, h = (hi - lo) / 2, s = 0, sm = 0;
	for (int i = 0; i < GL_POINTS; i++) {
		double kz = c + h * x[i], k2 = kp * kp + kz * kz;
		double p = w[i] * qt_eor_power(sqrt(k2));
		s += p;
		sm += k2 > 0 ? p * kz * kz / k2 : 0;
	}
	if (mu2)
		*mu2 = s > 0 ? sm / s : 0;
	return s * h / M_PI;
}

static int make_shells(qt_eor *g)
{
	double kf = 2 * M_PI / g->p.box, kmax = 2 * M_PI * g->S / g->p.box;
	int n = (int)ceil(log(kmax / kf) / log(SHELL_RATIO)), S2 = g->S;
	int64_t total = 0, *first;

	if (n > MAX_SHELLS)
		return QT_EINTERNAL;
	if (!(g->kedge = malloc((size_t)(n + 1) * sizeof *g->kedge)))
		return QT_ENOMEM;
	g->nshell = n;
	for (int i = 0; i <= n; i++)
		g->kedge[i] = i == n ? kmax : kf * pow(SHELL_RATIO, i);

	g->i0 = malloc((size_t)g->nmodes * sizeof *g->i0);
	g->off = malloc((size_t)(g->nmodes + 1) * sizeof *g->off);
	g->kind = malloc((size_t)g->nmodes);
	if (!g->i0 || !g->off || !g->kind)
		return QT_ENOMEM;
	for (int m = 0; m < g->nmodes; m++) {
		int S = g->S, ky = m / (S / 2 + 1), kx = m % (S / 2 + 1), i = 0;
		double k = mode_k(g, m);
		while (i < n && g->kedge[i + 1] <= k)
			i++;
		g->i0[m] = i;
		g->off[m] = total;
		total += n - i;
		if (kx == 0 || kx == S / 2)
			g->kind[m] = (ky == 0 || ky == S / 2) ? 1 :
				     ky > S / 2 ? 2 : 0;
		else
			g->kind[m] = 0;
	}
	g->off[g->nmodes] = total;
	g->sd = malloc((size_t)(total ? total : 1) * sizeof *g->sd);
	g->mu2 = malloc((size_t)(total ? total : 1) * sizeof *g->mu2);
	if (!g->sd || !g->mu2)
		return QT_ENOMEM;
	/* modes of equal |k_perp| (kx^2 + ky^2 = n2) share their amplitudes */
	if (!(first = malloc(((size_t)S2 * S2 / 2 + 1) * sizeof *first)))
		return QT_ENOMEM;
	for (int64_t q = 0; q <= (int64_t)S2 * S2 / 2; q++)
		first[q] = -1;
	for (int m = 0; m < g->nmodes; m++) {
		int ky = m / (S2 / 2 + 1), kx = m % (S2 / 2 + 1);
		int64_t n2;
		double k = mode_k(g, m);
		if (ky > S2 / 2)
			ky -= S2;
		n2 = (int64_t)kx * kx + (int64_t)ky * ky;
		if (first[n2] >= 0) {
			memcpy(g->sd + g->off[m], g->sd + g->off[first[n2]],
			       (size_t)(n - g->i0[m]) * sizeof *g->sd);
			memcpy(g->mu2 + g->off[m], g->mu2 + g->off[first[n2]],
			       (size_t)(n - g->i0[m]) * sizeof *g->mu2);
			continue;
		}
		first[n2] = m;
		for (int i = g->i0[m]; i < n; i++) {
			int64_t e = g->off[m] + i - g->i0[m];
			double mu2, p = shell_power(k, g->kedge[i],
						    g->kedge[i + 1], &mu2);
			g->sd[e] = (float)sqrt(p / g->area);
			g->mu2[e] = (float)mu2;
		}
	}
	free(first);
	return 0;
}

static int make_radii(qt_eor *g)
{
	double cell = g->p.box / g->S, rcell = cell * cbrt(3 / (4 * M_PI));
	double rmax = g->p.rmax > rcell ? g->p.rmax : rcell;
	int n = 1 + (int)floor(log(rmax / rcell) / log(RADIUS_RATIO));

	g->nr = n;
	g->radius = malloc((size_t)n * sizeof *g->radius);
	g->sig2 = malloc((size_t)n * sizeof *g->sig2);
	g->iend = malloc((size_t)n * sizeof *g->iend);
	g->weight = malloc((size_t)n * g->nshell * sizeof *g->weight);
	if (!g->radius || !g->sig2 || !g->iend || !g->weight)
		return QT_ENOMEM;
	for (int j = 0; j < n; j++) {
		double r = j == n - 1 ? rcell : rmax / pow(RADIUS_RATIO, j);
		double s = qt_eor_sigma(r);
		int e = 0;
		g->radius[j] = r;
		g->sig2[j] = s * s;
		while (e < g->nshell && g->kedge[e] * r < KR_CUT)
			e++;
		g->iend[j] = e;
		for (int i = 0; i < g->nshell; i++)
			g->weight[(int64_t)j * g->nshell + i] = (float)tophat(
				sqrt(g->kedge[i] * g->kedge[i + 1]) * r);
	}
	/* variance of the drawn cell field: every mode of the full plane */
	g->sig2_cell = g->cov_mu2[0] = g->cov_mu2[1] = 0;
	for (int m = 0; m < g->nmodes; m++) {
		int kx = m % (g->S / 2 + 1);
		double mult = (kx == 0 || kx == g->S / 2) ? 1 : 2;
		const float *w = g->weight + (int64_t)(n - 1) * g->nshell;
		for (int i = g->i0[m]; i < g->nshell; i++) {
			int64_t e = g->off[m] + i - g->i0[m];
			double a = g->sd[e] * w[i], a2 = mult * a * a;
			g->sig2_cell += a2;
			g->cov_mu2[0] += a2 * g->mu2[e];
			g->cov_mu2[1] += a2 * g->mu2[e] * g->mu2[e];
		}
	}
	return 0;
}

/* Set the cells of a disc (nrow rows (dy, w)) around (y, x) of an S x S
 * periodic map. */
static void paint_disc(unsigned char *ion, int S, const int16_t *row,
		       int64_t nrow, int y, int x)
{
	for (int64_t q = 0; q < nrow; q++) {
		int yy = y + row[2 * q], w = row[2 * q + 1], a = x - w;
		int len = 2 * w + 1;
		unsigned char *r;
		yy += yy < 0 ? S : yy >= S ? -S : 0;
		r = ion + (int64_t)yy * S;
		if (len >= S) {
			memset(r, 1, (size_t)S);
		} else if (a < 0) {
			memset(r + a + S, 1, (size_t)-a);
			memset(r, 1, (size_t)(len + a));
		} else if (a + len > S) {
			memset(r + a, 1, (size_t)(S - a));
			memset(r, 1, (size_t)(a + len - S));
		} else {
			memset(r + a, 1, (size_t)len);
		}
	}
}

/* The rows of the disc of each radius (the plane's cut through the
 * sphere of a bubble centred on it: cells within R of the centre) and the
 * disc's transform. */
static int make_discs(qt_eor *g, float *img, fftwf_complex *ft)
{
	int S = g->S;
	double cell = g->p.box / S;
	int64_t total = 0;

	g->disc_off = malloc((size_t)(g->nr + 1) * sizeof *g->disc_off);
	g->disc_area = malloc((size_t)g->nr * sizeof *g->disc_area);
	if (!g->disc_off || !g->disc_area)
		return QT_ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		total = 0;
		for (int j = 0; j < g->nr; j++) {
			double r = g->radius[j] / cell;
			int lo = r > S / 2 ? S / 2 : (int)floor(r);
			int hi = lo > S / 2 - 1 ? S / 2 - 1 : lo;
			g->disc_off[j] = total;
			g->disc_area[j] = 0;
			for (int dy = -lo; dy <= hi; dy++) {
				int hw = (int)floor(sqrt(r * r - (double)dy * dy));
				hw = hw > S / 2 ? S / 2 : hw;
				if (pass) {
					g->disc_row[2 * total] = (int16_t)dy;
					g->disc_row[2 * total + 1] = (int16_t)hw;
				}
				g->disc_area[j] += 2 * hw + 1 > S ? S : 2 * hw + 1;
				total++;
			}
		}
		g->disc_off[g->nr] = total;
		if (!pass && !(g->disc_row = malloc((size_t)total * 2 *
						    sizeof *g->disc_row)))
			return QT_ENOMEM;
	}
	if (!(g->disc_ft = malloc((size_t)g->nr * g->nmodes *
				  sizeof *g->disc_ft)))
		return QT_ENOMEM;
	for (int j = 0; j < g->nr; j++) {
		unsigned char *u = (unsigned char *)ft; /* scratch: S*S bytes fit */
		memset(u, 0, (size_t)S * S);
		paint_disc(u, S, g->disc_row + 2 * g->disc_off[j],
			   g->disc_off[j + 1] - g->disc_off[j], 0, 0);
		for (int64_t x = 0; x < (int64_t)S * S; x++)
			img[x] = u[x];
		fftwf_execute_dft_r2c(g->plan_fwd, img, ft);
		for (int m = 0; m < g->nmodes; m++)
			g->disc_ft[(int64_t)j * g->nmodes + m] =
				ft[m][0] / ((float)S * S);
	}
	return 0;
}

int qt_eor_new(qt_eor **gp, const qt_eor_params *p)
{
	qt_eor *g;
	fftwf_complex *in;
	float *out;
	int rc = qt_eor_params_check(p);

	*gp = NULL;
	if (rc < 0)
		return rc;
	if (!(g = calloc(1, sizeof *g)))
		return qt_error(QT_ENOMEM, "out of memory");
	g->p = *p;
	g->S = p->size;
	g->nmodes = g->S * (g->S / 2 + 1);
	g->area = p->box * p->box;
	if ((rc = make_shells(g)) < 0 || (rc = make_radii(g)) < 0)
		goto fail;
	for (int i = 0; i < p->nz; i++)
		growth_and_smin(g, p->z[i], &g->zd[i], &g->zsmin[i]);
	g->sigma_psi = sigma_psi();
	pthread_once(&zig_once, zig_init);
	in = fftwf_malloc((size_t)g->nmodes * sizeof *in);
	out = fftwf_malloc((size_t)g->S * g->S * sizeof *out);
	if (in && out) {
		pthread_mutex_lock(&plan_lock);
		g->plan = fftwf_plan_dft_c2r_2d(g->S, g->S, in, out,
						FFTW_ESTIMATE);
		g->plan_fwd = fftwf_plan_dft_r2c_2d(g->S, g->S, out, in,
						    FFTW_ESTIMATE);
		pthread_mutex_unlock(&plan_lock);
	}
	if (!g->plan || !g->plan_fwd || (rc = make_discs(g, out, in)) < 0) {
		fftwf_free(in);
		fftwf_free(out);
		rc = QT_ENOMEM;
		goto fail;
	}
	fftwf_free(in);
	fftwf_free(out);
	*gp = g;
	return 0;
fail:
	qt_eor_free(g);
	return qt_error(rc, "%s for the eor generator (size %d)",
			rc == QT_ENOMEM ? "out of memory" : "internal error",
			p->size);
}

void qt_eor_free(qt_eor *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&plan_lock);
	if (g->plan)
		fftwf_destroy_plan(g->plan);
	if (g->plan_fwd)
		fftwf_destroy_plan(g->plan_fwd);
	pthread_mutex_unlock(&plan_lock);
	free(g->kedge);
	free(g->i0);
	free(g->off);
	free(g->sd);
	free(g->mu2);
	free(g->kind);
	free(g->radius);
	free(g->sig2);
	free(g->iend);
	free(g->weight);
	free(g->disc_off);
	free(g->disc_row);
	free(g->disc_area);
	free(g->disc_ft);
	free(g);
}

qt_eor_work *qt_eor_work_new(const qt_eor *g)
{
	qt_eor_work *w = calloc(1, sizeof *w);
	size_t npix = (size_t)g->S * g->S;
	if (!w)
		return NULL;
	w->amp = fftwf_malloc((size_t)(g->off[g->nmodes] ? g->off[g->nmodes] : 1) *
			      sizeof *w->amp);
	w->amp_c = fftwf_malloc((size_t)(g->off[g->nmodes] ? g->off[g->nmodes] : 1) *
				sizeof *w->amp_c);
	w->spec = fftwf_malloc((size_t)g->nmodes * sizeof *w->spec);
	w->field = fftwf_malloc(npix * sizeof *w->field);
	w->cell = fftwf_malloc(npix * sizeof *w->cell);
	w->mask = fftwf_malloc(npix * sizeof *w->mask);
	w->mspec = fftwf_malloc((size_t)g->nmodes * sizeof *w->mspec);
	w->ion = malloc(npix);
	w->done = malloc(npix);
	if (!w->amp || !w->amp_c || !w->spec || !w->field || !w->cell ||
	    !w->mask || !w->mspec || !w->ion || !w->done) {
		qt_eor_work_free(w);
		return NULL;
	}
	return w;
}

void qt_eor_work_free(qt_eor_work *w)
{
	if (!w)
		return;
	fftwf_free(w->amp);
	fftwf_free(w->amp_c);
	fftwf_free(w->spec);
	fftwf_free(w->field);
	fftwf_free(w->cell);
	fftwf_free(w->mask);
	fftwf_free(w->mspec);
	free(w->ion);
	free(w->done);
	free(w);
}

void qt_eor_layout(const qt_eor_params *p, int64_t i, int64_t *run, int *zi,
		   int *slice)
{
	int64_t per_run = (int64_t)p->nz * p->per_z;
	*run = i / per_run;
	*zi = (int)((i / p->per_z) % p->nz);
	*slice = (int)(i % p->per_z);
}

/* qt_rng streams: run r owns streams r (K + 1) (its zeta) and
 * r (K + 1) + 1 + s (the density of slice s), K = per_z. */
double qt_eor_run_zeta(const qt_eor *g, uint64_t seed, int64_t run)
{
	qt_rng rng;
	qt_rng_seed(&rng, seed, (uint64_t)run * (uint64_t)(g->p.per_z + 1));
	return g->p.zeta_min *
	       pow(g->p.zeta_max / g->p.zeta_min, qt_rng_uniform(&rng));
}

/* Draw every (mode, shell) amplitude of one slice into amp: rms sd[e] *
 * scale, Hermitian where the r2c layout stores both halves. */
static void draw_shells(const qt_eor *g, qt_rng *rng, fftwf_complex *amp,
			const float *sd, float scale)
{
	int S = g->S, cols = S / 2 + 1;
	for (int m = 0; m < g->nmodes; m++) {
		int64_t o = g->off[m], cnt = g->off[m + 1] - o;
		fftwf_complex *a = amp + o;
		const float *s = sd + o;
		if (g->kind[m] == 2) {
			/* kx = 0 or S/2, ky > S/2: the conjugate of row S-ky */
			int ky = m / cols, kx = m % cols;
			const fftwf_complex *b = amp + g->off[(S - ky) * cols + kx];
			for (int64_t i = 0; i < cnt; i++) {
				a[i][0] = b[i][0];
				a[i][1] = -b[i][1];
			}
		} else if (g->kind[m] == 1) {
			for (int64_t i = 0; i < cnt; i++) {
				a[i][0] = scale * s[i] * normal(rng);
				a[i][1] = 0;
			}
		} else {
			for (int64_t i = 0; i < cnt; i++) {
				float r = scale * s[i] * (float)M_SQRT1_2;
				a[i][0] = r * normal(rng);
				a[i][1] = r * normal(rng);
			}
		}
	}
}

/* The slice of amplitudes amp smoothed at radius j, z = 0 units, into
 * w->field. */
static void smooth(const qt_eor *g, int j, const fftwf_complex *amp,
		   qt_eor_work *w)
{
	const float *wt = g->weight + (int64_t)j * g->nshell;
	int end = g->iend[j];
	for (int m = 0; m < g->nmodes; m++) {
		float re = 0, im = 0;
		const fftwf_complex *a = amp + g->off[m] - g->i0[m];
		for (int i = g->i0[m]; i < end; i++) {
			re += wt[i] * a[i][0];
			im += wt[i] * a[i][1];
		}
		w->spec[m][0] = re;
		w->spec[m][1] = im;
	}
	fftwf_execute_dft_c2r(g->plan, w->spec, w->field);
}

/* The Gaussian field behind the brightness, z = 0 units, into w->cell:
 * on the cell scale, each shell's amplitude is g A + sqrt(1 - g^2) C (the
 * Eulerian field keeps the linear phases A on scales above the
 * displacement, independent ones C below), times 1 + f mu^2 for the
 * line-of-sight velocity gradient.  g: (nshell) propagator. */
static void brightness_field(const qt_eor *g, const float *prop, float fz,
			     qt_eor_work *w)
{
	const float *wt = g->weight + (int64_t)(g->nr - 1) * g->nshell;
	int end = g->iend[g->nr - 1];
	float wa[MAX_SHELLS], wc[MAX_SHELLS];
	for (int i = 0; i < g->nshell; i++) {
		wa[i] = wt[i] * prop[i];
		wc[i] = wt[i] * sqrtf(fmaxf(0, 1 - prop[i] * prop[i]));
	}
	for (int m = 0; m < g->nmodes; m++) {
		float re = 0, im = 0;
		const fftwf_complex *a = w->amp + g->off[m] - g->i0[m];
		const fftwf_complex *c = w->amp_c + g->off[m] - g->i0[m];
		const float *mu2 = g->mu2 + g->off[m] - g->i0[m];
		for (int i = g->i0[m]; i < end; i++) {
			float v = 1 + fz * mu2[i];
			re += v * (wa[i] * a[i][0] + wc[i] * c[i][0]);
			im += v * (wa[i] * a[i][1] + wc[i] * c[i][1]);
		}
		w->spec[m][0] = re;
		w->spec[m][1] = im;
	}
	fftwf_execute_dft_c2r(g->plan, w->spec, w->cell);
}

/* Ionise the disc of radius j around every cell of w->field at or above
 * the barrier b.  Cells already centres at a larger radius (w->done) are
 * skipped: their larger disc holds this one.  The discs are painted row by
 * row when they are few, else set as the FFT convolution of the centres
 * with the disc (the same cells). */
static void ionise(const qt_eor *g, int j, float b, qt_eor_work *w)
{
	int S = g->S;
	const float *field = w->field;
	unsigned char *done = w->done;
	int64_t npix = (int64_t)S * S, ncentre = 0;
	int64_t r0 = g->disc_off[j], nrow = g->disc_off[j + 1] - r0;
	const int16_t *row = g->disc_row + 2 * r0;
	const float *ft = g->disc_ft + (int64_t)j * g->nmodes;

	if (!nrow)
		return;
	for (int64_t x = 0; x < npix; x++) {
		unsigned char c = (field[x] >= b) & !done[x];
		w->mask[x] = c;
		done[x] |= c;
		ncentre += c;
	}
	if (!ncentre)
		return;
	if (g->disc_area[j] == 1) {
		for (int64_t x = 0; x < npix; x++)
			w->ion[x] |= w->mask[x] != 0;
		return;
	}
	/* painting costs a memset per row, the FFT convolution about
	 * PAINT_LIMIT of them per map cell */
	if (ncentre * nrow <= PAINT_LIMIT * npix) {
		for (int y = 0; y < S; y++)
			for (int x = 0; x < S; x++)
				if (w->mask[(int64_t)y * S + x] != 0)
					paint_disc(w->ion, S, row, nrow, y, x);
		return;
	}
	fftwf_execute_dft_r2c(g->plan_fwd, w->mask, w->mspec);
	for (int m = 0; m < g->nmodes; m++) {
		w->mspec[m][0] *= ft[m];
		w->mspec[m][1] *= ft[m];
	}
	fftwf_execute_dft_c2r(g->plan, w->mspec, w->mask);
	for (int64_t x = 0; x < npix; x++)
		w->ion[x] |= w->mask[x] > 0.5f;
}

double qt_eor_map(float *map, float *xhi_cell, float *delta, float *delta_lin,
		  const qt_eor *g, uint64_t seed, int64_t run, int slice,
		  double z, double zeta, qt_eor_work *w)
{
	int64_t npix = (int64_t)g->S * g->S;
	double d = 0, smin = 0, t0 = qt_eor_t0(z), smin2, budget, xres, sum = 0;
	double einv = zeta > 1 ? erfcinv(1 / zeta) : 0, lvar, bd, fz;
	qt_rng rng;

	for (int i = 0; i < g->p.nz && !d; i++)
		if (g->p.z[i] == z) {
			d = g->zd[i];
			smin = g->zsmin[i];
		}
	if (!d)
		growth_and_smin(g, z, &d, &smin);
	smin2 = smin * smin;
	bd = g->p.nonlinear * d;
	fz = pow(OMEGA_M * pow(1 + z, 3) /
		 (OMEGA_M * pow(1 + z, 3) + 1 - OMEGA_M), 0.55);
	lvar = bd * bd * g->sig2_cell;

	/* the linear amplitudes, then the small-scale phases of the
	 * Eulerian field */
	qt_rng_seed(&rng, seed, (uint64_t)run * (uint64_t)(g->p.per_z + 1) +
				1 + (uint64_t)slice);
	draw_shells(g, &rng, w->amp, g->sd, 1);
	if (g->p.displacement > 0)
		draw_shells(g, &rng, w->amp_c, g->sd, 1);
	memset(w->ion, 0, (size_t)npix);
	memset(w->done, 0, (size_t)npix);
	for (int j = 0; j < g->nr; j++) {
		double b;
		if (!(zeta > 1 && g->sig2[j] < smin2 && g->radius[j] >= g->p.rmin))
			continue;
		smooth(g, j, w->amp, w);
		b = DELTA_C / d - sqrt(2 * (smin2 - g->sig2[j])) * einv;
		ionise(g, j, (float)b, w);
	}
	if (delta_lin) {
		smooth(g, g->nr - 1, w->amp, w);
		for (int64_t x = 0; x < npix; x++)
			delta_lin[x] = (float)(d * w->field[x]);
	}
	/* the Eulerian field decorrelates from the linear one below the rms
	 * displacement: propagator exp(-k^2 sigma_psi^2 / 2) (Crocce and
	 * Scoccimarro 2006); the line-of-sight velocity gradient adds f mu^2
	 * delta in linear theory (Kaiser 1987) */
	{
		float prop[MAX_SHELLS];
		double spsi = g->p.displacement * g->sigma_psi * d;
		for (int i = 0; i < g->nshell; i++) {
			double k = sqrt(g->kedge[i] * g->kedge[i + 1]);
			prop[i] = (float)exp(-0.5 * k * k * spsi * spsi);
		}
		if (!g->p.velocity)
			fz = 0;
		brightness_field(g, prop, (float)fz, w);
		lvar = bd * bd * (g->sig2_cell + 2 * fz * g->cov_mu2[0] +
				  fz * fz * g->cov_mu2[1]);
	}
	budget = zeta * erfc(DELTA_C / (M_SQRT2 * d * smin));
	xres = g->p.residual * pow((1 + z) / 9, 3) / fmax(budget, 1e-30);
	for (int64_t x = 0; x < npix; x++) {
		double dl = w->cell[x], onepd = exp(bd * dl - lvar / 2), xhi;
		double res = fmin(1, xres * onepd);
		xhi = w->ion[x] ? res : 1;
		map[x] = (float)(t0 * xhi * onepd);
		if (xhi_cell)
			xhi_cell[x] = (float)xhi;
		if (delta)
			delta[x] = (float)(onepd - 1);
		sum += xhi;
	}
	return sum / (double)npix;
}

typedef struct fill_task {
	float *maps, *xhi, *redshift, *zeta;
	int64_t *run;
	int64_t first;
	uint64_t seed;
	const qt_eor *g;
	int failed;
} fill_task;

static void fill_chunk(void *arg, int64_t begin, int64_t end, int chunk)
{
	fill_task *t = arg;
	const qt_eor *g = t->g;
	int64_t npix = (int64_t)g->S * g->S;
	qt_eor_work *w = qt_eor_work_new(g);

	if (!w) {
		__atomic_store_n(&t->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	for (int64_t i = begin; i < end; i++) {
		int64_t run;
		int zi, slice;
		double zeta;
		qt_eor_layout(&g->p, t->first + i, &run, &zi, &slice);
		zeta = qt_eor_run_zeta(g, t->seed, run);
		t->xhi[i] = (float)qt_eor_map(t->maps + i * npix, NULL, NULL,
					      NULL, g, t->seed, run, slice,
					      g->p.z[zi], zeta, w);
		t->redshift[i] = (float)g->p.z[zi];
		t->zeta[i] = (float)zeta;
		if (t->run)
			t->run[i] = run;
	}
	qt_eor_work_free(w);
}

int qt_eor_fill(float *maps, float *xhi, float *redshift, float *zeta,
		int64_t *run, int64_t first, int64_t n, uint64_t seed,
		const qt_eor *g, qt_pool *pool)
{
	fill_task t = {maps, xhi, redshift, zeta, run, first, seed, g, 0};
	qt_pool_for(pool, n, fill_chunk, &t);
	if (t.failed)
		return qt_error(QT_ENOMEM, "out of memory for the eor work "
				"space (size %d)", g->S);
	return 0;
}

double qt_eor_slice_power(const qt_eor *g, double kperp)
{
	const float *w = g->weight + (int64_t)(g->nr - 1) * g->nshell;
	double s = 0;
	for (int i = 0; i < g->nshell; i++) {
		double p;
		if (g->kedge[i + 1] <= kperp)
			continue;
		p = shell_power(kperp, g->kedge[i], g->kedge[i + 1], NULL);
		s += p * w[i] * w[i];
	}
	return s;
}
