/* jets.h: a physics-minded generator of calorimeter jet images for five
 * classes: gluon (g), light quark (q), top (t), W and Z jets.
 *
 * Each jet is a parton shower (angular-ordered, running coupling, Casimir
 * colour factors) of one parton (g, q) or of the decay products of a
 * boosted resonance (t -> b W -> b q q', W -> q q', Z -> q q), fragmented
 * into hadrons, centred on its pT-weighted centroid, binned into an
 * (eta, phi) image of transverse momentum, with underlying event,
 * calorimeter resolution, noise and zero suppression.  sim/jets.c explains
 * the model and cites what it follows; docs/stages/simulate.md documents
 * the knobs and the validation.
 *
 * Image layout: (size, size) floats, row r is phi, column c is eta; pixel
 * (r, c) covers eta in [c*pixel - half, (c+1)*pixel - half) with half =
 * size*pixel/2, and likewise phi for r.  The jet axis sits at the image
 * centre (the corner of the four middle pixels for an even size).
 *
 * Reproducibility: sample i of seed s uses only qt_rng stream i of seed s,
 * so a sample does not depend on the batch it is generated in.
 */
#ifndef QT_SIM_JETS_H
#define QT_SIM_JETS_H

#include "common/rng.h"
#include <stdint.h>

enum qt_jet_class {
	QT_JET_G, QT_JET_Q, QT_JET_T, QT_JET_W, QT_JET_Z,
	QT_JET_NCLASSES
};

/* "g", "q", "t", "w", "z", indexed by enum qt_jet_class. */
extern const char *const qt_jet_class_names[QT_JET_NCLASSES];

/* The class named `name`, or -1. */
int qt_jet_class_parse(const char *name);

enum qt_jet_norm {
	QT_JET_NORM_NONE, /* pixels in GeV of transverse momentum */
	QT_JET_NORM_SUM,  /* divided by the image sum (sums to 1) */
	QT_JET_NORM_MAX   /* divided by the brightest pixel (max is 1) */
};

typedef struct qt_jet_params {
	int size;            /* pixels per side */
	double pixel;        /* pixel size in eta and in phi */
	double pt_min;       /* jet pT range, GeV, uniform, same for all classes */
	double pt_max;
	double radius;       /* jet radius R: shower cone and decay containment */
	double ue_density;   /* underlying event + pile-up, GeV of pT per unit eta-phi area */
	double stochastic;   /* calorimeter resolution a in a/sqrt(E) (E in GeV) */
	double constant;     /* calorimeter resolution constant term b */
	double noise;        /* electronic noise per pixel, GeV (Gaussian sigma) */
	double threshold;    /* zero suppression: pixels below this pT, GeV, are 0 */
	enum qt_jet_norm normalise;
} qt_jet_params;

/* The documented defaults: 20 x 20 pixels of 0.1, pT 500-1000 GeV,
 * R = 0.8, UE 0.5 GeV per unit area, a = 0.5, b = 0.03, noise 0.1 GeV,
 * threshold 0.5 GeV, sum normalisation. */
void qt_jet_params_default(qt_jet_params *p);

/* Check ranges.  Returns 0 or QT_EUSAGE with a message naming the knob. */
int qt_jet_params_check(const qt_jet_params *p);

/* Truth of one jet, at particle level (shower and hadrons, before the
 * underlying event and the detector): transverse momentum and invariant
 * mass of the particles inside the image window, GeV. */
typedef struct qt_jet_truth {
	float pt;
	float mass;
} qt_jet_truth;

/* Scratch space for qt_jet_generate (about 100 kB, independent of the
 * image size).  NULL when out of memory. */
typedef struct qt_jet_work qt_jet_work;
qt_jet_work *qt_jet_work_new(void);
void qt_jet_work_free(qt_jet_work *w);

/* One jet of class `cls` drawn from `rng`.
 *   image: (size, size) floats, overwritten.
 *   truth: may be NULL.
 * Returns 0, or QT_EUSAGE for a bad class. */
int qt_jet_generate(float *image, qt_jet_truth *truth,
		    const qt_jet_params *p, int cls, qt_rng *rng,
		    qt_jet_work *w);

/* Samples first .. first+n-1 of seed `seed`: sample i draws its class
 * uniformly from classes[0 .. nclasses-1] (physics classes, enum
 * qt_jet_class) and writes label k (the position in `classes`).
 *   images: (n, size, size), labels: (n), pt and mass: (n) or NULL.
 * All outputs are overwritten.  Returns 0, QT_EUSAGE or QT_ENOMEM. */
int qt_jets_fill(float *images, int64_t *labels, float *pt, float *mass,
		 int64_t first, int64_t n, uint64_t seed, const int *classes,
		 int nclasses, const qt_jet_params *p);

/* Invariant mass (GeV if the image is in GeV) of an image read as one
 * massless four-vector per pixel at the pixel centre, around eta = 0.
 * image: (size, size) in the layout above. */
double qt_jet_image_mass(const float *image, int size, double pixel);

/* pT-weighted mean distance of the pixels from the image centre,
 * sum(pT * dR) / sum(pT) (the jet "girth"); 0 for an empty image. */
double qt_jet_image_width(const float *image, int size, double pixel);

#endif
