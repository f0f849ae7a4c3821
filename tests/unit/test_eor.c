/* test_eor.c: the 21cm map generator (sim/eor.h): reproducibility per
 * (seed, map) whatever the batch or thread count, the run layout, xHI in
 * [0, 1] and equal to the cells' mean, brightness = T0 xHI (1 + delta) and
 * (near) zero in ionised cells, reionisation proceeding as z falls and as
 * zeta grows, the cosmology (sigma8, growth, T0), and the power spectrum
 * of the drawn density plane against an independent integral of P(k).
 * Maps are 64 x 64 cells of 0.75 Mpc to keep the test fast. */
#include "common/error.h"
#include "common/threadpool.h"
#include "sim/eor.h"
#include "test.h"

#include <fftw3.h>
#include <stdlib.h>
#include <string.h>

#define S 64
#define NPIX (S * S)

static qt_eor_params params(void)
{
	qt_eor_params p;
	qt_eor_params_default(&p);
	p.size = S;
	p.box = 0.75 * S;
	p.rmax = 20;
	return p;
}

static void test_same_seed_same_maps(void)
{
	qt_eor_params p = params();
	qt_eor *g = NULL;
	qt_pool *pool = qt_pool_new(3);
	int64_t n = 23, ra[23], rb[23];
	float *a = malloc(n * NPIX * sizeof *a), *b = malloc(n * NPIX * sizeof *b);
	float xa[23], xb[23], za[23], zb[23], ea[23], eb[23];

	CHECK_OK(qt_eor_new(&g, &p));
	CHECK(pool != NULL);
	if (!g || !pool)
		goto out;
	CHECK_OK(qt_eor_fill(a, xa, za, ea, ra, 0, n, 5, g, NULL));
	CHECK_OK(qt_eor_fill(b, xb, zb, eb, rb, 0, n, 5, g, pool));
	CHECK(memcmp(a, b, n * NPIX * sizeof *a) == 0);
	CHECK(memcmp(xa, xb, sizeof xa) == 0);
	CHECK(memcmp(za, zb, sizeof za) == 0);
	CHECK(memcmp(ea, eb, sizeof ea) == 0);
	CHECK(memcmp(ra, rb, sizeof ra) == 0);

	/* Maps 9..22 made on their own equal those made with 0..8. */
	CHECK_OK(qt_eor_fill(b, xb, zb, eb, rb, 9, n - 9, 5, g, pool));
	CHECK(memcmp(b, a + 9 * NPIX, (n - 9) * NPIX * sizeof *a) == 0);
	CHECK(memcmp(xb, xa + 9, (n - 9) * sizeof *xb) == 0);

	/* Another seed gives other maps. */
	CHECK_OK(qt_eor_fill(b, xb, zb, eb, rb, 0, n, 6, g, NULL));
	CHECK(memcmp(a, b, n * NPIX * sizeof *a) != 0);
out:
	qt_eor_free(g);
	qt_pool_free(pool);
	free(a);
	free(b);
}

static void test_layout(void)
{
	qt_eor_params p = params();
	qt_eor *g = NULL;
	int64_t n = 45, run[45];
	float *m = malloc(n * NPIX * sizeof *m), x[45], z[45], zeta[45];

	p.per_z = 3; /* 5 redshifts x 3 slices: 15 maps a run */
	CHECK_OK(qt_eor_new(&g, &p));
	if (!g)
		goto out;
	CHECK_OK(qt_eor_fill(m, x, z, zeta, run, 0, n, 2, g, NULL));
	for (int i = 0; i < n; i++) {
		int64_t r;
		int zi, s;
		qt_eor_layout(&p, i, &r, &zi, &s);
		CHECK(r == i / 15 && zi == (i / 3) % 5 && s == i % 3);
		CHECK(run[i] == r);
		CHECK(z[i] == (float)p.z[zi]);
		CHECK(zeta[i] == zeta[15 * r]); /* one zeta per run */
		CHECK(zeta[i] >= p.zeta_min && zeta[i] <= p.zeta_max);
		CHECK(x[i] >= 0 && x[i] <= 1);
	}
	CHECK(zeta[0] != zeta[15] && zeta[15] != zeta[30]);
	/* Slices of one redshift differ; the same slice at two redshifts
	 * shares its density field, so its maps are correlated. */
	CHECK(memcmp(m, m + NPIX, NPIX * sizeof *m) != 0);
out:
	qt_eor_free(g);
	free(m);
}

static void test_brightness_and_xhi(void)
{
	qt_eor_params p = params();
	qt_eor *g = NULL;
	qt_eor_work *w = NULL;
	float *map = malloc(NPIX * sizeof *map), *xc = malloc(NPIX * sizeof *xc);
	float *d = malloc(NPIX * sizeof *d);
	const double zs[] = {10, 9, 8.5};

	for (int res = 0; res < 2; res++) {
		p.residual = res ? 2e-3 : 0;
		qt_eor_free(g);
		qt_eor_work_free(w);
		w = NULL;
		CHECK_OK(qt_eor_new(&g, &p));
		if (!g || !(w = qt_eor_work_new(g))) {
			CHECK(0);
			goto out;
		}
		for (int k = 0; k < 3; k++) {
			double t0 = qt_eor_t0(zs[k]), sum = 0, sumion = 0;
			double x = qt_eor_map(map, xc, d, NULL, g, 3, 0, 0, zs[k],
					      12, w);
			long nion = 0, bad = -1;
			CHECK(x > 0 && x < 1);
			for (long i = 0; i < NPIX; i++) {
				double want = t0 * xc[i] * (1 + d[i]);
				sum += xc[i];
				if (!(fabs(map[i] - want) <= 1e-4 * want + 1e-6) ||
				    !(xc[i] >= 0 && xc[i] <= 1) || !(d[i] > -1))
					bad = bad < 0 ? i : bad;
				if (xc[i] < 1) { /* ionised */
					nion++;
					sumion += xc[i];
					if (!res && map[i] != 0)
						bad = bad < 0 ? i : bad;
				}
			}
			if (bad >= 0)
				printf("# z %g: cell %ld: map %g xHI %g delta %g\n",
				       zs[k], bad, map[bad], xc[bad], d[bad]);
			CHECK(bad < 0);
			CHECK(fabs(sum / NPIX - x) < 1e-6);
			/* neutral cells are fully neutral, ionised ones keep a
			 * few per cent at most (none without residual): xHI is
			 * the neutral cells' fraction plus that */
			CHECK(nion > 0 && nion < NPIX);
			if (!(sumion / nion < (res ? 0.05 : 1e-12)))
				printf("# z %g: mean residual %g\n", zs[k], sumion / nion);
			CHECK(sumion / nion < (res ? 0.05 : 1e-12));
			CHECK(fabs(x - (1 - (double)nion / NPIX) - sumion / NPIX) < 1e-6);
		}
	}
out:
	qt_eor_work_free(w);
	qt_eor_free(g);
	free(map);
	free(xc);
	free(d);
}

static void test_reionisation_proceeds(void)
{
	qt_eor_params p = params();
	qt_eor *g = NULL;
	qt_eor_work *w = NULL;
	float *map = malloc(NPIX * sizeof *map);
	const double zs[] = {11, 10, 9.5, 9, 8.5, 8, 7};
	double prev = 2;

	CHECK_OK(qt_eor_new(&g, &p));
	if (!g || !(w = qt_eor_work_new(g))) {
		CHECK(0);
		goto out;
	}
	/* one run, eight slices, at falling redshift */
	for (int k = 0; k < 7; k++) {
		double x = 0;
		for (int s = 0; s < 8; s++)
			x += qt_eor_map(map, NULL, NULL, NULL, g, 4, 0, s, zs[k],
					15, w) / 8;
		if (!(x < prev))
			printf("# z %g: xHI %g, not below %g\n", zs[k], x, prev);
		CHECK(x < prev);
		prev = x;
	}
	CHECK(prev < 0.05); /* z = 7 with zeta 15: reionised */
	/* more efficient sources reionise earlier */
	prev = 2;
	for (double zeta = 5; zeta <= 40; zeta *= 2) {
		double x = qt_eor_map(map, NULL, NULL, NULL, g, 4, 0, 0, 9, zeta, w);
		CHECK(x < prev);
		prev = x;
	}
out:
	qt_eor_work_free(w);
	qt_eor_free(g);
	free(map);
}

static void test_cosmology(void)
{
	double d7 = qt_eor_growth(7), d10 = qt_eor_growth(10);
	CHECK(fabs(qt_eor_sigma(8 / 0.6766) - 0.8102) < 1e-3);
	CHECK(fabs(qt_eor_growth(0) - 1) < 1e-9);
	/* matter domination at z > 7: D ~ 1 / (1 + z) to a per cent */
	CHECK(fabs(d7 * 8 / (d10 * 11) - 1) < 0.01);
	CHECK(d10 > 0.1 && d10 < 0.13);
	/* 27 mK ((1 + z) / 10)^(1/2) for Planck's Ob h^2 and Om h^2 */
	CHECK(fabs(qt_eor_t0(9) / 27 - 1) < 0.02);
	CHECK(fabs(qt_eor_t0(15) / qt_eor_t0(9) - sqrt(16.0 / 10)) < 1e-9);
	/* Mmin of 1e4 K halos: a few 1e7 Msun at z ~ 9 */
	CHECK(qt_eor_mmin(1e4, 9) > 1e7 && qt_eor_mmin(1e4, 9) < 1e8);
	CHECK(qt_eor_fcoll(1e4, 8) > qt_eor_fcoll(1e4, 10));
}

/* (1/pi) int P(|k|) W(|k| rc)^2 dkz over kf <= |k| <= kmax: the power of
 * a plane through the cell-smoothed field, by plain Simpson in kz. */
static double slice_power_ref(double kp, double kf, double kmax, double rc)
{
	int n = 4000;
	double hi = sqrt(kmax * kmax - kp * kp), h = hi / n, s = 0;
	for (int i = 0; i <= n; i++) {
		double kz = i * h, k = sqrt(kp * kp + kz * kz), x = k * rc, w;
		double f;
		if (k < kf)
			continue;
		w = x < 1e-3 ? 1 : 3 * (sin(x) - x * cos(x)) / (x * x * x);
		f = qt_eor_power(k) * w * w;
		s += (i == 0 || i == n) ? f : (i % 2 ? 4 * f : 2 * f);
	}
	return s * h / 3 / M_PI;
}

static void test_power_spectrum(void)
{
	enum { NB = 8, MAPS = 24 };
	qt_eor_params p = params();
	qt_eor *g = NULL;
	qt_eor_work *w = NULL;
	float *map = malloc(NPIX * sizeof *map), *dl = fftwf_malloc(NPIX * sizeof *dl);
	fftwf_complex *f = fftwf_malloc(S * (S / 2 + 1) * sizeof *f);
	fftwf_plan plan = fftwf_plan_dft_r2c_2d(S, S, dl, f, FFTW_ESTIMATE);
	double pk[NB] = {0}, kb[NB] = {0}, cnt[NB] = {0}, m2 = 0, m4 = 0;
	double box = p.box, kf = 2 * M_PI / box, kmax = kf * S;
	double rc = box / S * cbrt(3 / (4 * M_PI)), d = qt_eor_growth(9);

	CHECK_OK(qt_eor_new(&g, &p));
	if (!g || !(w = qt_eor_work_new(g)) || !plan) {
		CHECK(0);
		goto out;
	}
	for (int s = 0; s < MAPS; s++) {
		qt_eor_map(map, NULL, NULL, dl, g, 11, s, 0, 9, 10, w);
		for (int i = 0; i < NPIX; i++) {
			double v = dl[i] * dl[i];
			m2 += v;
			m4 += v * v;
		}
		fftwf_execute(plan);
		for (int ky = 0; ky < S; ky++)
			for (int kx = 1; kx < S / 2; kx++) {
				/* log bins from 2 kf to the Nyquist frequency */
				double k = kf * hypot(kx, ky <= S / 2 ? ky : ky - S);
				int b = (int)(NB * log(k / (2 * kf)) / log(S / 4.0));
				const float *c = f[ky * (S / 2 + 1) + kx];
				if (b < 0 || b >= NB)
					continue;
				pk[b] += (c[0] * c[0] + c[1] * c[1]) * box * box /
					 ((double)NPIX * NPIX) / (d * d);
				kb[b] += k;
				cnt[b]++;
			}
	}
	for (int b = 0; b < NB; b++) {
		double want, shells;
		if (!cnt[b])
			continue;
		pk[b] /= cnt[b];
		kb[b] /= cnt[b];
		want = slice_power_ref(kb[b], kf, kmax, rc);
		shells = qt_eor_slice_power(g, kb[b]);
		/* the drawn plane has the generator's power (sampling noise
		 * of >= 100 modes: 10-15 %), and the shell sum is the
		 * continuous integral to a few per cent */
		if (fabs(pk[b] / shells - 1) > 0.2 || fabs(shells / want - 1) > 0.05)
			printf("# k %.3f: measured %.4g, shells %.4g, integral %.4g\n",
			       kb[b], pk[b], shells, want);
		CHECK(fabs(pk[b] / shells - 1) < 0.2);
		CHECK(fabs(shells / want - 1) < 0.05);
	}
	/* the linear field is Gaussian: kurtosis 3 (the ziggurat's tails) */
	m2 /= MAPS * NPIX;
	m4 /= MAPS * NPIX;
	printf("# linear field: rms %.3f, kurtosis %.3f\n", sqrt(m2), m4 / (m2 * m2));
	CHECK(fabs(m4 / (m2 * m2) - 3) < 0.2);
	/* CDM slope of a plane: falling, between k^-0.5 and k^-2.5 over the
	 * middle of the range */
	{
		double slope = log(pk[NB - 2] / pk[1]) / log(kb[NB - 2] / kb[1]);
		double want = log(slice_power_ref(kb[NB - 2], kf, kmax, rc) /
				  slice_power_ref(kb[1], kf, kmax, rc)) /
			      log(kb[NB - 2] / kb[1]);
		printf("# slice power slope %.3f (integral %.3f)\n", slope, want);
		CHECK(slope < -0.5 && slope > -2.5);
		CHECK(fabs(slope - want) < 0.15);
	}
out:
	if (plan)
		fftwf_destroy_plan(plan);
	qt_eor_work_free(w);
	qt_eor_free(g);
	free(map);
	fftwf_free(dl);
	fftwf_free(f);
}

static void test_bad_parameters(void)
{
	qt_eor_params p;
	qt_eor *g = NULL;
	static const char *const what[] = {
		"odd size", "size 0", "decreasing zeta", "rmax over the box",
		"no redshifts", "redshift 1", "negative residual", "tvir 0",
	};
	for (int c = 0; c < (int)(sizeof what / sizeof what[0]); c++) {
		p = params();
		switch (c) {
		case 0: p.size = 7; break;
		case 1: p.size = 0; break;
		case 2: p.zeta_min = 30; p.zeta_max = 10; break;
		case 3: p.rmax = 2 * p.box; break;
		case 4: p.nz = 0; break;
		case 5: p.z[1] = 1; break;
		case 6: p.residual = -1; break;
		case 7: p.tvir = 0; break;
		}
		g = NULL;
		if (qt_eor_new(&g, &p) != QT_EUSAGE || g) {
			printf("# %s accepted\n", what[c]);
			CHECK(0);
		}
		qt_eor_free(g);
	}
	p = params();
	CHECK(qt_eor_params_check(&p) == 0);
}

int main(void)
{
	RUN(test_same_seed_same_maps);
	RUN(test_layout);
	RUN(test_brightness_and_xhi);
	RUN(test_reionisation_proceeds);
	RUN(test_cosmology);
	RUN(test_power_spectrum);
	RUN(test_bad_parameters);
	return test_done();
}
