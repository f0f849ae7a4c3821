/* test_jets.c: the jet-image generator (sim/jets.h): reproducibility per
 * (seed, sample), normalisation, centring, the W, Z and top mass peaks,
 * Casimir scaling (gluon jets wider and busier than quark jets), and the
 * parameter checks.  Tolerances are generous: these are physics sanity
 * checks on a few hundred jets, not fits. */
#include "common/error.h"
#include "sim/jets.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define S 20
#define NPIX (S * S)

static const int all[QT_JET_NCLASSES] = {0, 1, 2, 3, 4};

static qt_jet_params params(enum qt_jet_norm norm, double ue)
{
	qt_jet_params p;
	qt_jet_params_default(&p);
	p.normalise = norm;
	p.ue_density = ue;
	return p;
}

static void test_same_seed_same_jets(void)
{
	qt_jet_params p = params(QT_JET_NORM_SUM, 0.5);
	int64_t n = 40, la[40], lb[40], lc[40];
	float *a = malloc(n * NPIX * sizeof *a), *b = malloc(n * NPIX * sizeof *b);
	float *c = malloc(n * NPIX * sizeof *c), ma[40], mb[40];

	CHECK_OK(qt_jets_fill(a, la, NULL, ma, 0, n, 7, all, 5, &p));
	CHECK_OK(qt_jets_fill(b, lb, NULL, mb, 0, n, 7, all, 5, &p));
	CHECK(memcmp(a, b, n * NPIX * sizeof *a) == 0);
	CHECK(memcmp(la, lb, sizeof la) == 0);
	CHECK(memcmp(ma, mb, sizeof ma) == 0);

	/* Samples 15..39 made on their own equal those made with 0..14. */
	CHECK_OK(qt_jets_fill(c, lc, NULL, NULL, 15, n - 15, 7, all, 5, &p));
	CHECK(memcmp(c, a + 15 * NPIX, (n - 15) * NPIX * sizeof *a) == 0);
	CHECK(memcmp(lc, la + 15, (n - 15) * sizeof *lc) == 0);

	/* Another seed gives other jets. */
	CHECK_OK(qt_jets_fill(b, lb, NULL, NULL, 0, n, 8, all, 5, &p));
	CHECK(memcmp(a, b, n * NPIX * sizeof *a) != 0);
	free(a);
	free(b);
	free(c);
}

static void test_labels_and_classes(void)
{
	qt_jet_params p = params(QT_JET_NORM_SUM, 0.5);
	const int wz[2] = {QT_JET_W, QT_JET_Z};
	int64_t n = 200, lab[200], count[2] = {0, 0};
	float *img = malloc(n * NPIX * sizeof *img);

	CHECK_OK(qt_jets_fill(img, lab, NULL, NULL, 0, n, 1, wz, 2, &p));
	for (int64_t i = 0; i < n; i++) {
		CHECK(lab[i] == 0 || lab[i] == 1);
		if (lab[i] == 0 || lab[i] == 1)
			count[lab[i]]++;
	}
	CHECK(count[0] > 60 && count[1] > 60);
	CHECK(qt_jet_class_parse("t") == QT_JET_T);
	CHECK(qt_jet_class_parse("x") == -1);
	CHECK(strcmp(qt_jet_class_names[QT_JET_G], "g") == 0);
	free(img);
}

static void test_normalisation_and_centring(void)
{
	float img[NPIX];
	qt_rng rng;
	qt_jet_work *w = qt_jet_work_new();
	qt_jet_truth t;
	double worst_sum = 0, worst_max = 0, ce = 0, cp = 0;

	for (int i = 0; i < 100; i++) {
		qt_jet_params p = params(QT_JET_NORM_SUM, 0.5);
		double s = 0, mx = 0, e = 0, f = 0;
		qt_rng_seed(&rng, 3, (uint64_t)i);
		CHECK_OK(qt_jet_generate(img, &t, &p, i % 5, &rng, w));
		for (int k = 0; k < NPIX; k++) {
			CHECK(img[k] >= 0);
			s += img[k];
			e += img[k] * ((k % S + 0.5) * 0.1 - 1.0);
			f += img[k] * ((k / S + 0.5) * 0.1 - 1.0);
		}
		worst_sum = fmax(worst_sum, fabs(s - 1));
		ce += e / 100;
		cp += f / 100;

		p.normalise = QT_JET_NORM_MAX;
		qt_rng_seed(&rng, 3, (uint64_t)i);
		CHECK_OK(qt_jet_generate(img, &t, &p, i % 5, &rng, w));
		for (int k = 0; k < NPIX; k++)
			mx = fmax(mx, img[k]);
		worst_max = fmax(worst_max, fabs(mx - 1));

		/* Unnormalised: pixels in GeV, the sum near the truth pT. */
		p.normalise = QT_JET_NORM_NONE;
		qt_rng_seed(&rng, 3, (uint64_t)i);
		CHECK_OK(qt_jet_generate(img, &t, &p, i % 5, &rng, w));
		s = 0;
		for (int k = 0; k < NPIX; k++)
			s += img[k];
		CHECK(t.pt > 400 && t.pt < 1050);
		CHECK(s > 0.8 * t.pt && s < 1.25 * t.pt);
	}
	if (worst_sum > 1e-5 || worst_max > 1e-6)
		printf("# sums off by %g, maxima off by %g\n", worst_sum, worst_max);
	CHECK(worst_sum <= 1e-5);
	CHECK(worst_max <= 1e-6);
	/* The pT-weighted centroid sits at the centre (within a pixel). */
	printf("# mean centroid (%.4f, %.4f)\n", ce, cp);
	CHECK(fabs(ce) < 0.05 && fabs(cp) < 0.05);
	qt_jet_work_free(w);
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median truth and image mass of n jets of class cls. */
static void masses(int cls, int n, double *truth, double *image)
{
	qt_jet_params p = params(QT_JET_NORM_NONE, 0);
	qt_jet_work *w = qt_jet_work_new();
	double *mt = malloc(n * sizeof *mt), *mi = malloc(n * sizeof *mi);
	float img[NPIX];
	for (int i = 0; i < n; i++) {
		qt_rng rng;
		qt_jet_truth t;
		qt_rng_seed(&rng, 11, (uint64_t)i);
		qt_jet_generate(img, &t, &p, cls, &rng, w);
		mt[i] = t.mass;
		mi[i] = qt_jet_image_mass(img, S, 0.1);
	}
	*truth = median(mt, n);
	*image = median(mi, n);
	free(mt);
	free(mi);
	qt_jet_work_free(w);
}

static void test_mass_peaks(void)
{
	static const struct {
		int cls;
		double m, tol;
	} peaks[] = {{QT_JET_W, 80.4, 5}, {QT_JET_Z, 91.2, 5},
		     {QT_JET_T, 172.8, 10}};
	double tw = 0, iw = 0;
	for (int k = 0; k < 3; k++) {
		double t, im;
		masses(peaks[k].cls, 300, &t, &im);
		printf("# %s: median truth mass %.1f, image mass %.1f (want %.1f)\n",
		       qt_jet_class_names[peaks[k].cls], t, im, peaks[k].m);
		CHECK(fabs(t - peaks[k].m) < peaks[k].tol);
		CHECK(fabs(im - peaks[k].m) < 0.15 * peaks[k].m);
		if (k == 0) {
			tw = t;
			iw = im;
		} else if (k == 1) {
			CHECK(t > tw + 5);
			CHECK(im > iw + 3);
		}
	}
}

/* Casimir scaling: gluon jets (CA = 3) are wider, heavier and light up
 * more pixels than quark jets (CF = 4/3). */
static void test_quark_narrower_than_gluon(void)
{
	qt_jet_params p = params(QT_JET_NORM_SUM, 0.5);
	qt_jet_work *w = qt_jet_work_new();
	double width[2] = {0, 0}, npix[2] = {0, 0}, mass[2] = {0, 0};
	float img[NPIX];
	int n = 500;
	for (int cls = QT_JET_G; cls <= QT_JET_Q; cls++)
		for (int i = 0; i < n; i++) {
			qt_rng rng;
			qt_jet_truth t;
			qt_rng_seed(&rng, 5, (uint64_t)i);
			qt_jet_generate(img, &t, &p, cls, &rng, w);
			width[cls] += qt_jet_image_width(img, S, 0.1) / n;
			mass[cls] += t.mass / n;
			for (int k = 0; k < NPIX; k++)
				npix[cls] += (img[k] > 0) / (double)n;
		}
	printf("# g: width %.3f, %.1f pixels, mass %.1f; q: width %.3f, "
	       "%.1f pixels, mass %.1f\n", width[0], npix[0], mass[0],
	       width[1], npix[1], mass[1]);
	CHECK(width[QT_JET_Q] < 0.9 * width[QT_JET_G]);
	CHECK(npix[QT_JET_Q] < 0.85 * npix[QT_JET_G]);
	CHECK(mass[QT_JET_Q] < mass[QT_JET_G]);
	qt_jet_work_free(w);
}

static void test_bad_parameters(void)
{
	qt_jet_params p;
	float img[4];
	int64_t lab[1];
	qt_jet_params_default(&p);
	CHECK(qt_jet_params_check(&p) == 0);
	p.size = 0;
	CHECK(qt_jet_params_check(&p) == QT_EUSAGE);
	qt_jet_params_default(&p);
	p.pt_min = 900;
	p.pt_max = 600;
	CHECK(qt_jet_params_check(&p) == QT_EUSAGE);
	qt_jet_params_default(&p);
	p.pixel = 0;
	CHECK(qt_jet_params_check(&p) == QT_EUSAGE);
	qt_jet_params_default(&p);
	p.size = 2;
	const int bad[1] = {7};
	CHECK(qt_jets_fill(img, lab, NULL, NULL, 0, 1, 1, bad, 1, &p) ==
	      QT_EUSAGE);
	CHECK(qt_jets_fill(img, lab, NULL, NULL, 0, 1, 1, all, 0, &p) ==
	      QT_EUSAGE);
}

int main(void)
{
	RUN(test_same_seed_same_jets);
	RUN(test_labels_and_classes);
	RUN(test_normalisation_and_centring);
	RUN(test_mass_peaks);
	RUN(test_quark_narrower_than_gluon);
	RUN(test_bad_parameters);
	return test_done();
}
