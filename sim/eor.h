/* eor.h: a semi-numerical generator of 21cm brightness-temperature maps of
 * the epoch of reionisation, in the spirit of 21cmFAST (Mesinger,
 * Furlanetto and Cen 2011) and SimFast21 (Santos et al. 2010).
 *
 * Each map is a plane through a 3D Gaussian linear density field with a
 * CDM power spectrum (Eisenstein and Hu 1998, no wiggles, Planck 2018
 * cosmology) grown to redshift z.  Smoothed with spherical top-hats of
 * radius R from rmax down to the cell, a sphere is ionised where its
 * conditional collapse fraction times the ionising efficiency zeta reaches
 * one (the excursion-set barrier of Furlanetto, Zaldarriaga and Hernquist
 * 2004); ionised gas keeps a small residual neutral fraction.  The
 * brightness is
 *     dTb = 27 mK xHI (1 + delta) (Ob h^2 / 0.023)
 *           ((0.15 / (Om h^2)) (1 + z) / 10)^(1/2)
 * with a log-normal Eulerian density (1 + delta) that includes the
 * line-of-sight velocity gradient, and Ts >> Tcmb.  sim/eor.c explains
 * the model; docs/stages/simulate.md documents the knobs and the
 * validation against SimFast21 maps.
 *
 * Maps come in runs, as in the real data: run r has one zeta (log-uniform
 * in [zeta_min, zeta_max]) and per_z independent slices; each slice is
 * seen at every redshift of the list, with the same density field, so a
 * run's ionised regions grow as z falls.  Sample i is
 *     run   = i / (nz * per_z)
 *     z     = z[(i / per_z) % nz]
 *     slice = i % per_z
 * Its randomness comes only from qt_rng streams of (seed, run, slice), so a
 * sample does not depend on the batch or thread that makes it.
 *
 * Map layout: (size, size) floats in mK, row-major; pixel (r, c) is the
 * cell of side box/size at y = r, x = c (periodic).
 */
#ifndef QT_SIM_EOR_H
#define QT_SIM_EOR_H

#include "common/rng.h"
#include "common/threadpool.h"
#include <stdint.h>

#define QT_EOR_MAX_Z 64

typedef struct qt_eor_params {
	int size;               /* pixels per side: even, 8 .. 1024 */
	double box;             /* comoving side of the map, Mpc */
	int nz;                 /* redshifts in z[] */
	double z[QT_EOR_MAX_Z]; /* in the order the maps of a run cycle through */
	int per_z;              /* slices per redshift in a run */
	double zeta_min;        /* ionising efficiency, log-uniform per run */
	double zeta_max;
	double tvir;            /* minimum virial temperature of sources, K */
	double rmax;            /* largest bubble radius (photon mean free path), Mpc */
	double rmin;            /* smallest ionising sphere, Mpc (0: the cell) */
	double nonlinear;       /* log-normal density: 1 + delta =
				 * exp(b dG - b^2 sG^2 / 2), b = nonlinear */
	double displacement;    /* times the 1D rms linear displacement: the
				 * scale below which the brightness density
				 * loses the linear phases (0: never) */
	int velocity;           /* 1: the line-of-sight velocity gradient
				 * (linear, Kaiser) modulates the brightness */
	double residual;        /* neutral fraction left in ionised gas at mean
				 * density, z = 8 and zeta * fcoll = 1 */
} qt_eor_params;

/* The documented defaults: 200 pixels on a 150 Mpc box (0.75 Mpc cells,
 * as the SimFast21 maps), z = 10, 9.5, 9, 8.5, 8, 4 slices per redshift,
 * zeta log-uniform in [8, 32], Tvir 1e4 K, rmax 30 Mpc, rmin 0,
 * nonlinear 1, displacement 4, velocity on, residual 0.002 (calibrated in
 * docs/stages/simulate.md). */
void qt_eor_params_default(qt_eor_params *p);

/* Check ranges.  Returns 0 or QT_EUSAGE with a message naming the knob. */
int qt_eor_params_check(const qt_eor_params *p);

/* The generator: cosmology tables, the shell decomposition of the power
 * spectrum, the bubble discs and the FFT plans for one parameter set;
 * read-only once made, shared by every thread.  Making one takes about
 * 0.05 s for size 200. */
typedef struct qt_eor qt_eor;

/* Make a generator for p (checked; copied).  Returns 0, QT_EUSAGE or
 * QT_ENOMEM. */
int qt_eor_new(qt_eor **g, const qt_eor_params *p);
void qt_eor_free(qt_eor *g);
const qt_eor_params *qt_eor_params_of(const qt_eor *g);

/* Where sample i sits (see above). */
void qt_eor_layout(const qt_eor_params *p, int64_t i, int64_t *run, int *zi,
		   int *slice);

/* The zeta of run `run` of seed `seed`. */
double qt_eor_run_zeta(const qt_eor *g, uint64_t seed, int64_t run);

/* Scratch space for one thread (a few MB for size 200).  NULL when out of
 * memory. */
typedef struct qt_eor_work qt_eor_work;
qt_eor_work *qt_eor_work_new(const qt_eor *g);
void qt_eor_work_free(qt_eor_work *w);

/* One map of slice `slice` of run `run` of seed `seed` at redshift z with
 * efficiency zeta (z need not be in the parameters' list).
 *   map:      (size, size) dTb in mK, overwritten.
 *   xhi_cell: (size, size) neutral fraction per cell, or NULL.
 *   delta:    (size, size) the overdensity the brightness sees (Eulerian,
 *             with the velocity gradient): map = T0 xhi_cell (1 + delta).
 *   delta_lin:(size, size) linear overdensity at z on the cell scale (the
 *             field the excursion set smooths), or NULL.
 * Returns the map's neutral fraction (the mean of xhi_cell). */
double qt_eor_map(float *map, float *xhi_cell, float *delta, float *delta_lin,
		  const qt_eor *g, uint64_t seed, int64_t run, int slice,
		  double z, double zeta, qt_eor_work *w);

/* Samples first .. first+n-1 of seed `seed` (layout above), spread over
 * the pool's threads (pool may be NULL); results do not depend on the
 * thread count.
 *   maps: (n, size, size) mK; xhi, redshift, zeta: (n); run: (n) or NULL.
 * All outputs are overwritten.  Returns 0 or QT_ENOMEM. */
int qt_eor_fill(float *maps, float *xhi, float *redshift, float *zeta,
		int64_t *run, int64_t first, int64_t n, uint64_t seed,
		const qt_eor *g, qt_pool *pool);

/* ---- the physics, exposed for tests and calibration ---- */

/* Linear growth factor D(z), D(0) = 1. */
double qt_eor_growth(double z);
/* Linear power spectrum at z = 0, Mpc^3, k in 1/Mpc (sigma8 normalised). */
double qt_eor_power(double k);
/* rms of the linear field at z = 0 in a top-hat sphere of radius R, Mpc. */
double qt_eor_sigma(double r);
/* Minimum halo mass (Msun) of virial temperature tvir at z. */
double qt_eor_mmin(double tvir, double z);
/* 21cm brightness of fully neutral gas at mean density, mK. */
double qt_eor_t0(double z);
/* Mean collapse fraction in halos above the mass of tvir at z (Press-
 * Schechter). */
double qt_eor_fcoll(double tvir, double z);
/* Expected 2D power (Mpc^2) at |k_perp| of the z = 0 linear slice on the
 * cell scale that the generator draws (what delta_lin / D(z) has). */
double qt_eor_slice_power(const qt_eor *g, double kperp);

#endif
