/* conv2d.c: 2-D convolution (cross-correlation), forward and backward:
 * a direct vectorised path for small channel counts, Winograd F(4x4,
 * 3x3) for 3x3 stride-1 layers with enough channels and pixels
 * (kernels/conv2d_winograd.c, chosen by conv_wino), im2col + GEMM for
 * the rest.
 *
 *   x (N, Cin, H, W), w (Cout, Cin, KH, KW), b (Cout) or NULL,
 *   y (N, Cout, OH, OW); K = Cin*KH*KW, P = OH*OW
 *   y[n, co, i, j] = b[co] + sum_{ci,ki,kj} w[co, ci, ki, kj]
 *                    * x[n, ci, i*sh - pt + ki, j*sw - pl + kj]
 *   (zero outside the input; bottom/right padding is implied by OH, OW)
 *   backward: dx overwritten, dw += and db += (accumulated)
 *
 * Reference: torch.nn.functional.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b,
 * stride=(sh, sw)); with pads from qt_conv2d_same_padding it is
 * torch.nn.Conv2d(padding='same') and Keras padding='same'.
 *
 * Small path (stride 1, Cout*K and one sample's copies below the bounds
 * of conv_small: the jets network's 1->5 and 5->10 channel 5x5
 * convolutions).  Per sample, KW shifted copies of the (zero-padded)
 * input keep only the OW columns each kernel column kj reads:
 *   xs[kj][ci][r*OW + j] = x[ci][r - pt][j + kj - pl],  r < Hp = OH+KH-1,
 * so that for output pixel p = i*OW + j and kernel tap (ci, ki, kj)
 *   x[ci][i - pt + ki][j - pl + kj] = xs[kj][ci][ki*OW + p]:
 * every tap is one contiguous run over the flattened output plane,
 * whatever OW is.  Vectors of VL output pixels (kernels/vec.h) then give
 *   forward  y[co][p..]   = b[co] + sum_k w[co][k] xs[k][p..]
 *            (register blocks of up to 5 channels x 4 vectors, or 12 x 1)
 *   dw       dw[co][k]   += sum_{n,p} dy[co][p] xs[k][p], lane-wise
 *            partial sums (blocks of 5 channels x 5 taps in registers)
 *            over a slot of samples, each lane summed at the slot's end
 *   dx       dxs[kj][ci][ki*OW + p..] += sum_co w[co][k] dy[co][p..],
 *            then dx[ci][h][w] = sum_kj dxs[kj][ci][...], the shifted
 *            copies folded back.
 * When an output row is exactly one vector and nothing is padded (the
 * jets network's first layer in float32), tap (ci, ki, kj) of output row
 * i is a run of x's row i + ki itself, and no copies are made.
 * Everything stays in L1/L2; no BLAS call, no im2col buffer.
 *
 * GEMM path (any stride; large channel counts, where BLAS wins).  Per
 * sample, the output pixels are cut into tiles of at most COL_ELEMS / K
 * pixels (a bound on the im2col buffer whatever the image size); for a
 * tile, col (K, tile) holds the input patches and
 *   forward   y[n][:, tile]  = w (Cout, K) col            (+ b)
 *   backward  dw            += dy[n][:, tile] col^T        (accumulated)
 *             dcol           = w^T dy[n][:, tile], scattered into dx[n]
 *             db            += sum over the tile of dy[n]  (accumulated)
 * A 1x1 kernel with stride 1 and no padding uses x and dx in place of col.
 *
 * Parallelism, one level: the forward pass (and the small path's dx)
 * share samples or (sample, tile) tasks over the pool; dw and db cut the
 * batch into min(N, SLOTS) slots of consecutive samples (the small
 * path: of at least SLOT_MIN samples), each with its own partial sum,
 * then add the partial sums in slot order.  Slots, tiles and register
 * blocks depend on the shapes only, never on the thread count, so
 * neither do the results.
 *
 * Workspace (elements): first (slots - 1) * (Cout*K + Cout) partial sums
 * (slot 0 adds straight into dw and db), rounded up to a vector, then one
 * region per thread: GEMM path 2*K*tile (col and dcol; none for 1x1),
 * small path the lane-wise dw/db sums and the shifted copies (and padded
 * dy) of a group of samples (small_geom).
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "kernels/conv2d_winograd.h"
#include "common/threadpool.h"

#include "kernels/vec.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define COL_ELEMS ((int64_t)1 << 19) /* im2col tile bound, elements */
#define MIN_TILE 32                  /* pixels, however large K is */
#define SLOTS 16                     /* backward partial sums, fixed */
#define SLOT_MIN 64                  /* ... of at least this many samples */

#define SMALL_XS_MAX ((int64_t)1 << 15) /* one sample's shifted copies */
#define SMALL_CK_MAX 4096               /* Cout * K: lane-wise dw sums */
#define SMALL_GROUP ((int64_t)1 << 15)  /* dw: copies of a sample group */
#define SMALL_GROUP_MAX 64              /* ... of at most this many */
#define INLINE_WORK ((int64_t)1 << 16)  /* less runs on the caller */
#define WINO_MIN_PIXELS 36              /* Winograd: OH * OW at least */
#define WINO_MIN_CIN 16                 /* ... and Cin at least */
#define WINO_FEW_CIN 4                  /* ... or this, Cout <= 4 Cin */
#define WINO_ROW_BYTES ((size_t)8 << 20) /* ... and a tile row at most */

static int conv_direct(const qt_conv2d_geom *g)
{
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 &&
	       g->pt == 0 && g->pl == 0 && g->oh == g->h && g->ow == g->w;
}

/* Output pixels per tile. */
static int64_t conv_tile(const qt_conv2d_geom *g)
{
	int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
	int64_t t = COL_ELEMS / k;
	if (t < MIN_TILE)
		t = MIN_TILE;
	return t < p ? t : p;
}

static int conv_small(const qt_conv2d_geom *g, int64_t vl);

/* One slot per sample up to SLOTS; on the small path, whose lane-wise
 * partial sums cost a fixed amount per slot to clear and add, slots of
 * at least SLOT_MIN samples. */
static int64_t conv_slots(const qt_conv2d_geom *g, int64_t vl)
{
	int64_t s = conv_small(g, vl) ? g->n / SLOT_MIN : g->n;
	return s < 1 ? 1 : s > SLOTS ? SLOTS : s;
}

static int64_t round_up(int64_t a, int64_t m)
{
	return (a + m - 1) / m * m;
}

/* The small path's sizes, in elements, for vectors of vl elements. */
struct small {
	int64_t k, p;  /* K = Cin*KH*KW taps, P = OH*OW pixels */
	int64_t hp;    /* rows of the padded input the window visits */
	int64_t xs;    /* one shifted plane: Hp*OW, a vector of slack */
	int64_t xsp;   /* one sample's KW*Cin planes */
	int64_t nch;   /* vectors over P */
	int64_t dyp;   /* one sample's dy, each channel padded to nch*vl */
	int64_t group; /* samples whose copies dw builds at once */
	int64_t thread; /* elements of a thread's region */
	/* Tap (ci, ki, kj) of pixel vector ch starts at ci*sci + ki*ski +
	 * kj*skj + ch*sch in the sample's source: its shifted copies, or
	 * (direct) x itself when an output row is one vector and nothing is
	 * padded: each vector then is a run of an input row. */
	int direct;
	int64_t sci, ski, skj, sch;
};

static void small_geom(struct small *s, const qt_conv2d_geom *g, int64_t vl)
{
	s->k = g->cin * g->kh * g->kw;
	s->p = g->oh * g->ow;
	s->hp = g->oh + g->kh - 1;
	s->xs = round_up(s->hp * g->ow + vl, vl);
	s->xsp = g->kw * g->cin * s->xs;
	s->nch = (s->p + vl - 1) / vl;
	s->dyp = g->cout * s->nch * vl;
	s->group = SMALL_GROUP / (s->xsp + s->dyp);
	s->group = s->group < 1 ? 1 : s->group > SMALL_GROUP_MAX
					   ? SMALL_GROUP_MAX : s->group;
	/* lane-wise dw and db sums, then the group's copies and dy; dx
	 * (dxs + one dy) and the forward (xs) fit in the same space */
	s->thread = round_up(g->cout * s->k * vl + g->cout * vl +
			     s->group * (s->xsp + s->dyp), vl);
	s->direct = g->ow == vl && g->pt == 0 && g->pl == 0 &&
		    s->hp == g->h && g->ow + g->kw - 1 == g->w;
	if (s->direct) {
		s->sci = g->h * g->w, s->ski = g->w, s->skj = 1, s->sch = g->w;
	} else {
		s->sci = s->xs, s->ski = g->ow, s->skj = g->cin * s->xs;
		s->sch = vl;
	}
}

/* Stride 1, and small enough that the copies and the lane-wise weight
 * gradient stay in cache; the 1x1 case is a plain GEMM already. */
static int conv_small(const qt_conv2d_geom *g, int64_t vl)
{
	struct small s;
	if (g->sh != 1 || g->sw != 1 || conv_direct(g))
		return 0;
	small_geom(&s, g, vl);
	return g->cout * s.k <= SMALL_CK_MAX && s.xsp <= SMALL_XS_MAX;
}

/* Elements of the backward partial sums, at the start of the workspace. */
static int64_t conv_partial_elems(const qt_conv2d_geom *g, int64_t vl)
{
	int64_t s = conv_slots(g, vl);
	return s > 1 ? (s - 1) * (g->cout * g->cin * g->kh * g->kw + g->cout) : 0;
}

/* Elements of one thread's col + dcol buffers, after the partial sums. */
static int64_t conv_col_elems(const qt_conv2d_geom *g)
{
	return conv_direct(g) ? 0 : 2 * g->cin * g->kh * g->kw * conv_tile(g);
}

/* Offset of thread `chunk`'s region and its size, for vectors of vl. */
static int64_t conv_thread_elems(const qt_conv2d_geom *g, int64_t vl)
{
	struct small s;
	if (!conv_small(g, vl))
		return conv_col_elems(g);
	small_geom(&s, g, vl);
	return s.thread;
}

static int64_t conv_thread_off(const qt_conv2d_geom *g, int64_t vl, int chunk)
{
	return round_up(conv_partial_elems(g, vl), vl) +
	       chunk * conv_thread_elems(g, vl);
}

/* The Winograd path (kernels/conv2d_winograd.c) for 3x3 stride-1
 * convolutions, where it is the faster one (measured, docs/KERNELS.md):
 * outputs of at least WINO_MIN_PIXELS pixels (below, partly used tiles
 * and the filter transforms of each call eat the gain), not on the
 * small-channel path (faster on the small images it takes), and at
 * least WINO_MIN_CIN input channels, or a few with not many more
 * outputs (the GEMM's depth is Cin; the transforms cost per channel in
 * and out).  Images so wide that the transforms of one row of tiles
 * take over WINO_ROW_BYTES keep the GEMM path's bounded workspace. */
static int conv_wino(const qt_conv2d_geom *g, int64_t vl, qt_conv2d_path path)
{
	if (path == QT_CONV2D_DIRECT || !qt_wino_fits(g))
		return 0;
	if (path == QT_CONV2D_WINOGRAD)
		return 1;
	return g->oh * g->ow >= WINO_MIN_PIXELS && !conv_small(g, vl) &&
	       (g->cin >= WINO_MIN_CIN ||
		(g->cin >= WINO_FEW_CIN && g->cout <= 4 * g->cin)) &&
	       qt_wino_row_bytes(g, (size_t)(QT_VBYTES / vl)) <= WINO_ROW_BYTES;
}

size_t qt_conv2d_workspace_path(const qt_conv2d_geom *g, int nthreads,
				size_t elsize, qt_conv2d_path path)
{
	int64_t vl = QT_VBYTES / (int64_t)elsize;
	if (conv_wino(g, vl, path))
		return qt_wino_workspace(g, nthreads, elsize);
	return (size_t)conv_thread_off(g, vl, nthreads) * elsize;
}

size_t qt_conv2d_workspace_cpu(const qt_conv2d_geom *g, int nthreads,
			       size_t elsize)
{
	return qt_conv2d_workspace_path(g, nthreads, elsize, QT_CONV2D_AUTO);
}

/* First sample of slot s of ns over n samples (as qt_pool_for splits). */
static int64_t slot_begin(int64_t n, int64_t ns, int64_t s)
{
	return (n / ns) * s + (n % ns) * s / ns;
}

#define KERNEL_FILE "kernels/conv2d.c"
#include "kernels/template.h"
#else
#include "kernels/vec.h"

/* col (K, np) = the input patches of output pixels [p0, p0 + np) of one
 * sample x (Cin, H, W); row (ci*KH + ki)*KW + kj. */
static void FN(im2col)(real *col, const real *x, const qt_conv2d_geom *g,
		       int64_t p0, int64_t np)
{
	real *dst = col;
	for (int64_t ci = 0; ci < g->cin; ci++)
	for (int64_t ki = 0; ki < g->kh; ki++)
	for (int64_t kj = 0; kj < g->kw; kj++) {
		const real *xc = x + ci * g->h * g->w;
		int64_t oi = p0 / g->ow, oj = p0 % g->ow, left = np;
		while (left > 0) {
			int64_t run = g->ow - oj < left ? g->ow - oj : left;
			int64_t ih = oi * g->sh - g->pt + ki;
			int64_t iw0 = oj * g->sw - g->pl + kj;
			if (ih < 0 || ih >= g->h) {
				memset(dst, 0, (size_t)run * sizeof(real));
			} else if (g->sw == 1) {
				/* [0, lo) and [hi, run) fall outside the row */
				const real *xr = xc + ih * g->w;
				int64_t lo = iw0 < 0 ? -iw0 : 0;
				int64_t hi = g->w - iw0;
				if (lo > run)
					lo = run;
				if (hi > run)
					hi = run;
				if (hi < lo)
					hi = lo;
				memset(dst, 0, (size_t)lo * sizeof(real));
				memcpy(dst + lo, xr + iw0 + lo,
				       (size_t)(hi - lo) * sizeof(real));
				memset(dst + hi, 0,
				       (size_t)(run - hi) * sizeof(real));
			} else {
				const real *xr = xc + ih * g->w;
				for (int64_t j = 0; j < run; j++) {
					int64_t iw = iw0 + j * g->sw;
					dst[j] = iw >= 0 && iw < g->w ? xr[iw] : 0;
				}
			}
			dst += run;
			left -= run;
			oi++;
			oj = 0;
		}
	}
}

/* dx (Cin, H, W) += the patches in col (K, np), the reverse of im2col. */
static void FN(col2im)(real *dx, const real *col, const qt_conv2d_geom *g,
		       int64_t p0, int64_t np)
{
	const real *src = col;
	for (int64_t ci = 0; ci < g->cin; ci++)
	for (int64_t ki = 0; ki < g->kh; ki++)
	for (int64_t kj = 0; kj < g->kw; kj++) {
		real *dxc = dx + ci * g->h * g->w;
		int64_t oi = p0 / g->ow, oj = p0 % g->ow, left = np;
		while (left > 0) {
			int64_t run = g->ow - oj < left ? g->ow - oj : left;
			int64_t ih = oi * g->sh - g->pt + ki;
			int64_t iw0 = oj * g->sw - g->pl + kj;
			if (ih >= 0 && ih < g->h) {
				real *dxr = dxc + ih * g->w;
				for (int64_t j = 0; j < run; j++) {
					int64_t iw = iw0 + j * g->sw;
					if (iw >= 0 && iw < g->w)
						dxr[iw] += src[j];
				}
			}
			src += run;
			left -= run;
			oi++;
			oj = 0;
		}
	}
}

struct FN(conv_args) {
	real *y, *dx, *dw, *db;
	const real *x, *w, *b, *dy;
	const qt_conv2d_geom *g;
	real *work;
	int64_t tile, ntiles;
};

/* ---- the small path (see the top of the file) ---- */

/* xs[(kj*Cin + ci)*XS + r*OW + j] = x[ci][r - pt][j + kj - pl], zero
 * outside x, for r < Hp and j < OW; each plane zero to its end (XS). */
/* small_copies without padding: row r of plane (kj, ci) is OW elements of
 * x's row r from column kj; a compile-time OW makes each row one move. */
static inline __attribute__((always_inline)) void
FN(small_copies_valid)(real *xs, const real *xn, const qt_conv2d_geom *g,
		       const struct small *s, const int64_t OW)
{
	for (int64_t kj = 0; kj < g->kw; kj++)
		for (int64_t ci = 0; ci < g->cin; ci++) {
			real *d = xs + (kj * g->cin + ci) * s->xs;
			const real *xr = xn + ci * g->h * g->w + kj;
			for (int64_t r = 0; r < s->hp; r++)
				memcpy(d + r * OW, xr + r * g->w, OW * sizeof(real));
			FN(zero_run)(d + s->hp * OW, s->xs - s->hp * OW);
		}
}

static void FN(small_copies)(real *xs, const real *xn, const qt_conv2d_geom *g,
			     const struct small *s)
{
	if (g->pt == 0 && g->pl == 0 && s->hp == g->h &&
	    g->ow + g->kw - 1 == g->w) {
		switch (g->ow) {
		case 4: FN(small_copies_valid)(xs, xn, g, s, 4); return;
		case 8: FN(small_copies_valid)(xs, xn, g, s, 8); return;
		case 16: FN(small_copies_valid)(xs, xn, g, s, 16); return;
		case 32: FN(small_copies_valid)(xs, xn, g, s, 32); return;
		default: break;
		}
	}
	int64_t hw = g->h * g->w, end = g->cin * hw;
	int64_t nv = (g->ow + VL - 1) / VL; /* vectors per row */
	for (int64_t kj = 0; kj < g->kw; kj++) {
		/* columns j in [lo, hi) read inside the row */
		int64_t lo = g->pl - kj, hi = g->w + g->pl - kj;
		lo = lo < 0 ? 0 : lo > g->ow ? g->ow : lo;
		hi = hi > g->ow ? g->ow : hi < lo ? lo : hi;
		for (int64_t ci = 0; ci < g->cin; ci++) {
			real *d = xs + (kj * g->cin + ci) * s->xs;
			int64_t off = ci * hw + kj - g->pl; /* of row 0 in xn */
			for (int64_t r = 0; r < s->hp; r++, d += g->ow) {
				int64_t ih = r - g->pt, o = off + ih * g->w;
				if (ih < 0 || ih >= g->h) {
					FN(zero_run)(d, g->ow);
				} else if (lo == 0 && hi == g->ow &&
					   o + nv * VL <= end) {
					/* whole vectors: the excess lands in the
					 * next row's place (rewritten next) or
					 * the plane's slack (zeroed below) */
					for (int64_t v = 0; v < nv; v++)
						FN(vstore)(d + v * VL,
							   FN(vload)(xn + o + v * VL));
				} else {
					FN(zero_run)(d, lo);
					FN(copy_run)(d + lo, xn + o + lo, hi - lo);
					FN(zero_run)(d + hi, g->ow - hi);
				}
			}
			FN(zero_run)(d, s->xs - s->hp * g->ow);
		}
	}
}

/* dx[ci][h][w] = sum over kj of the shifted planes dxs, the transpose of
 * small_copies; dx (Cin, H, W) is overwritten. */
static void FN(small_fold)(real *dxn, const real *dxs, const qt_conv2d_geom *g,
			   const struct small *s)
{
	FN(zero_run)(dxn, g->cin * g->h * g->w);
	for (int64_t kj = 0; kj < g->kw; kj++) {
		int64_t lo = g->pl - kj, hi = g->w + g->pl - kj;
		lo = lo < 0 ? 0 : lo > g->ow ? g->ow : lo;
		hi = hi > g->ow ? g->ow : hi < lo ? lo : hi;
		for (int64_t ci = 0; ci < g->cin; ci++) {
			const real *d = dxs + (kj * g->cin + ci) * s->xs;
			real *dc = dxn + ci * g->h * g->w + kj - g->pl;
			for (int64_t r = 0; r < s->hp; r++, d += g->ow) {
				int64_t ih = r - g->pt;
				if (ih >= 0 && ih < g->h)
					FN(add_run)(dc + ih * g->w + lo, d + lo,
						    hi - lo);
			}
		}
	}
}

/* Ask for n elements from p to be brought into cache (for writing when
 * `write`): the next sample's, while this one computes.  Hardware
 * prefetchers lose track of the short rows these kernels read. */
static inline void FN(prefetch)(const real *p, int64_t n, int write)
{
	const char *c = (const char *)p;
	for (int64_t i = 0; i < n * (int64_t)sizeof(real); i += 64)
		if (write)
			__builtin_prefetch(c + i, 1, 3);
		else
			__builtin_prefetch(c + i, 0, 3);
}

/* dy of one sample with each channel's pixels padded with zeros to whole
 * vectors (dw and dx read whole vectors); returns the channel stride via
 * *stride.  Without a partial vector, dy itself. */
static const real *FN(small_dy)(real *buf, const real *dyn,
				const qt_conv2d_geom *g, const struct small *s,
				int64_t *stride)
{
	if (s->p % VL == 0) {
		*stride = s->p;
		return dyn;
	}
	*stride = s->nch * VL;
	for (int64_t co = 0; co < g->cout; co++) {
		FN(copy_run)(buf + co * *stride, dyn + co * s->p, s->p);
		FN(zero_run)(buf + co * *stride + s->p, *stride - s->p);
	}
	return buf;
}

/* Forward, one register block: channels [co0, co0 + CB) by vectors
 * [ch0, ch0 + NV) of one sample's output yn (Cout, P). */
static inline __attribute__((always_inline)) void
FN(small_fwd_block)(real *yn, const real *xs, const real *w, const real *b,
		    const qt_conv2d_geom *g, const struct small *s,
		    int64_t co0, int64_t ch0, const int CB, const int NV)
{
	VEC acc[12][4], xv[4];
	const real *wc = w + co0 * s->k;
	for (int c = 0; c < CB; c++)
		for (int v = 0; v < NV; v++)
			acc[c][v] = FN(vsplat)(b ? b[co0 + c] : 0);
	for (int64_t ci = 0; ci < g->cin; ci++)
	for (int64_t ki = 0; ki < g->kh; ki++) {
		const real *xr = xs + ci * s->sci + ki * s->ski + ch0 * s->sch;
		const real *wr = wc + (ci * g->kh + ki) * g->kw;
		for (int64_t kj = 0; kj < g->kw; kj++) {
			const real *xp = xr + kj * s->skj;
			for (int v = 0; v < NV; v++)
				xv[v] = FN(vload)(xp + v * s->sch);
			for (int c = 0; c < CB; c++) {
				real wv = wr[c * s->k + kj];
				for (int v = 0; v < NV; v++)
					acc[c][v] += wv * xv[v];
			}
		}
	}
	for (int c = 0; c < CB; c++)
		for (int v = 0; v < NV; v++) {
			int64_t p0 = (ch0 + v) * VL;
			real *dst = yn + (co0 + c) * s->p + p0;
			if (s->p - p0 >= VL)
				FN(vstore)(dst, acc[c][v]);
			else
				FN(vstore_head)(dst, acc[c][v], s->p - p0);
		}
}

#define FWD4(cb) case cb: FN(small_fwd_block)(yn, xs, w, b, g, s, co0, ch0, cb, 4); break;
#define FWD1(cb) case cb: FN(small_fwd_block)(yn, xs, w, b, g, s, co0, ch0, cb, 1); break;

/* Blocks of 4 vectors: up to 5 channels (20 accumulators). */
static void FN(small_fwd4)(real *yn, const real *xs, const real *w,
			   const real *b, const qt_conv2d_geom *g,
			   const struct small *s, int64_t co0, int64_t ch0,
			   int cb)
{
	switch (cb) {
	FWD4(1) FWD4(2) FWD4(3) FWD4(4) FWD4(5)
	}
}

/* Blocks of 1 vector: up to 12 channels. */
static void FN(small_fwd1)(real *yn, const real *xs, const real *w,
			   const real *b, const qt_conv2d_geom *g,
			   const struct small *s, int64_t co0, int64_t ch0,
			   int cb)
{
	switch (cb) {
	FWD1(1) FWD1(2) FWD1(3) FWD1(4) FWD1(5) FWD1(6)
	FWD1(7) FWD1(8) FWD1(9) FWD1(10) FWD1(11) FWD1(12)
	}
}

#undef FWD4
#undef FWD1

struct FN(small_args) {
	real *y, *dx, *dw, *db;
	const real *x, *w, *b, *dy;
	const qt_conv2d_geom *g;
	const struct small *s;
	real *work;
};

static void FN(small_forward_task)(void *arg, int64_t begin, int64_t end,
				   int chunk)
{
	const struct FN(small_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	const struct small *s = a->s;
	real *xs = a->work + conv_thread_off(g, VL, chunk);

	for (int64_t n = begin; n < end; n++) {
		real *yn = a->y + n * g->cout * s->p;
		int64_t ch0 = 0;
		if (n + 1 < end)
			FN(prefetch)(a->x + (n + 1) * g->cin * g->h * g->w,
				     g->cin * g->h * g->w, 0);
		const real *src = a->x + n * g->cin * g->h * g->w;
		if (!s->direct) {
			FN(small_copies)(xs, src, g, s);
			src = xs;
		}
		for (; ch0 + 4 <= s->nch; ch0 += 4)
			for (int64_t co0 = 0; co0 < g->cout; co0 += 5)
				FN(small_fwd4)(yn, src, a->w, a->b, g, s, co0, ch0,
					       (int)(g->cout - co0 < 5 ? g->cout - co0
								       : 5));
		for (; ch0 < s->nch; ch0++)
			for (int64_t co0 = 0; co0 < g->cout; co0 += 12)
				FN(small_fwd1)(yn, src, a->w, a->b, g, s, co0, ch0,
					       (int)(g->cout - co0 < 12 ? g->cout - co0
									: 12));
	}
}

/* dw, one register block: channels [co0, co0 + CB) by taps [k0, k0 + KB)
 * of the lane-wise sums vacc (Cout, K, VL), over the ng samples whose
 * copies are xsg[] and padded dy dyg[] (channel stride dys). */
static inline __attribute__((always_inline)) void
FN(small_dw_block)(real *vacc, const real *const *xsg,
		   const real *const *dyg, int64_t dys, int64_t ng,
		   const qt_conv2d_geom *g, const struct small *s, int64_t co0,
		   int64_t k0, const int CB, const int KB)
{
	VEC acc[5][5], xv[5];
	int64_t off[5];
	for (int kb = 0; kb < KB; kb++) {
		int64_t k = k0 + kb, ci = k / (g->kh * g->kw);
		int64_t ki = k / g->kw % g->kh, kj = k % g->kw;
		off[kb] = ci * s->sci + ki * s->ski + kj * s->skj;
	}
	for (int c = 0; c < CB; c++)
		for (int kb = 0; kb < KB; kb++)
			acc[c][kb] = FN(vload)(vacc + ((co0 + c) * s->k + k0 + kb) * VL);
	for (int64_t gi = 0; gi < ng; gi++) {
		const real *xsb = xsg[gi], *dyb = dyg[gi] + co0 * dys;
		for (int64_t ch = 0; ch < s->nch; ch++) {
			for (int kb = 0; kb < KB; kb++)
				xv[kb] = FN(vload)(xsb + off[kb] + ch * s->sch);
			for (int c = 0; c < CB; c++) {
				VEC d = FN(vload)(dyb + c * dys + ch * VL);
				for (int kb = 0; kb < KB; kb++)
					acc[c][kb] += d * xv[kb];
			}
		}
	}
	for (int c = 0; c < CB; c++)
		for (int kb = 0; kb < KB; kb++)
			FN(vstore)(vacc + ((co0 + c) * s->k + k0 + kb) * VL, acc[c][kb]);
}

#define DW5(cb) case cb: FN(small_dw_block)(vacc, xsg, dyg, dys, ng, g, s, co0, k0, cb, 5); break;
#define DW1(cb) case cb: FN(small_dw_block)(vacc, xsg, dyg, dys, ng, g, s, co0, k0, cb, 1); break;

static void FN(small_dw)(real *vacc, const real *const *xsg,
			 const real *const *dyg, int64_t dys, int64_t ng,
			 const qt_conv2d_geom *g, const struct small *s,
			 int64_t co0, int64_t k0, int cb, int kb)
{
	if (kb == 5)
		switch (cb) {
		DW5(1) DW5(2) DW5(3) DW5(4) DW5(5)
		}
	else
		switch (cb) {
		DW1(1) DW1(2) DW1(3) DW1(4) DW1(5)
		}
}

#undef DW5
#undef DW1

/* dx, one register block: dxs[kj][ci][ki*OW + p] += sum over channels
 * [co0, co0 + CB) of w[co][ci][ki][kj] dy[co][p] for the pixels p of
 * vector ch. */
static inline __attribute__((always_inline)) void
FN(small_dx_block)(real *dxs, const real *dyb, int64_t dys, const real *w,
		   const qt_conv2d_geom *g, const struct small *s, int64_t co0,
		   int64_t ch, const int CB)
{
	VEC d[12];
	for (int c = 0; c < CB; c++)
		d[c] = FN(vload)(dyb + (co0 + c) * dys + ch * VL);
	for (int64_t ci = 0; ci < g->cin; ci++)
	for (int64_t ki = 0; ki < g->kh; ki++) {
		real *q0 = dxs + ci * s->xs + ki * g->ow + ch * VL;
		const real *wr = w + co0 * s->k + (ci * g->kh + ki) * g->kw;
		for (int64_t kj = 0; kj < g->kw; kj++) {
			real *q = q0 + kj * g->cin * s->xs;
			VEC sum = wr[kj] * d[0];
			for (int c = 1; c < CB; c++)
				sum += wr[c * s->k + kj] * d[c];
			FN(vstore)(q, FN(vload)(q) + sum);
		}
	}
}

#define DX(cb) case cb: FN(small_dx_block)(dxs, dyb, dys, w, g, s, co0, ch, cb); break;

static void FN(small_dx)(real *dxs, const real *dyb, int64_t dys,
			 const real *w, const qt_conv2d_geom *g,
			 const struct small *s, int64_t co0, int64_t ch, int cb)
{
	switch (cb) {
	DX(1) DX(2) DX(3) DX(4) DX(5) DX(6)
	DX(7) DX(8) DX(9) DX(10) DX(11) DX(12)
	}
}

#undef DX

/* dx (overwritten) for samples [n0, n1), with dxs and buf (xsp + dyp
 * elements) as scratch. */
static void FN(small_dx_samples)(const struct FN(small_args) *a, int64_t n0,
				 int64_t n1, real *dxs)
{
	const qt_conv2d_geom *g = a->g;
	const struct small *s = a->s;
	real *buf = dxs + s->xsp;

	for (int64_t n = n0; n < n1; n++) {
		int64_t dys;
		if (n + 1 < n1)
			FN(prefetch)(a->dx + (n + 1) * g->cin * g->h * g->w,
				     g->cin * g->h * g->w, 1);
		const real *dyb = FN(small_dy)(buf, a->dy + n * g->cout * s->p, g,
					       s, &dys);
		FN(zero_run)(dxs, s->xsp);
		for (int64_t ch = 0; ch < s->nch; ch++)
			for (int64_t co0 = 0; co0 < g->cout; co0 += 12)
				FN(small_dx)(dxs, dyb, dys, a->w, g, s, co0, ch,
					     (int)(g->cout - co0 < 12 ? g->cout - co0
								      : 12));
		FN(small_fold)(a->dx + n * g->cin * g->h * g->w, dxs, g, s);
	}
}

/* Backward over slots [begin, end) of consecutive samples, group by
 * group: dw and db into the slot's lane-wise sums, then dx of the group
 * while its dy is in cache (in the space of the group's copies). */
static void FN(small_backward_task)(void *arg, int64_t begin, int64_t end,
				    int chunk)
{
	const struct FN(small_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	const struct small *s = a->s;
	int64_t ns = conv_slots(g, VL), nw = g->cout * s->k;
	real *vacc = a->work + conv_thread_off(g, VL, chunk);
	real *vdb = vacc + nw * VL;
	real *copies = vdb + g->cout * VL;
	real *dys_buf = copies + s->group * s->xsp;
	const real *xsg[SMALL_GROUP_MAX], *dyg[SMALL_GROUP_MAX];

	for (int64_t sl = begin; sl < end; sl++) {
		real *dw = a->dw, *db = a->db;
		int64_t n0 = slot_begin(g->n, ns, sl);
		int64_t n1 = slot_begin(g->n, ns, sl + 1), dys = s->p;
		if (sl > 0) {
			/* slot sl > 0 sums into its own zeroed partial */
			real *part = a->work + (sl - 1) * (nw + g->cout);
			memset(part, 0, (size_t)(nw + g->cout) * sizeof(real));
			dw = dw ? part : NULL;
			db = db ? part + nw : NULL;
		}
		FN(zero_run)(vacc, (nw + g->cout) * VL);
		for (int64_t n = n0; n < n1; n += s->group) {
			int64_t ng = n1 - n < s->group ? n1 - n : s->group;
			for (int64_t gi = 0; gi < ng && (dw || db); gi++) {
				const real *dyn = a->dy + (n + gi) * g->cout * s->p;
				if (n + gi + 1 < n1) {
					FN(prefetch)(dyn + g->cout * s->p,
						     g->cout * s->p, 0);
					if (dw)
						FN(prefetch)(a->x + (n + gi + 1) *
								 g->cin * g->h * g->w,
							     g->cin * g->h * g->w, 0);
				}
				dyg[gi] = FN(small_dy)(dys_buf + gi * s->dyp, dyn,
						       g, s, &dys);
				if (dw) {
					const real *src = a->x + (n + gi) * g->cin *
							  g->h * g->w;
					real *xs = copies + gi * s->xsp;
					if (!s->direct)
						FN(small_copies)(xs, src, g, s);
					xsg[gi] = s->direct ? src : xs;
				}
				if (db)
					for (int64_t co = 0; co < g->cout; co++) {
						VEC sum = FN(vload)(vdb + co * VL);
						for (int64_t ch = 0; ch < s->nch; ch++)
							sum += FN(vload)(dyg[gi] + co * dys +
									 ch * VL);
						FN(vstore)(vdb + co * VL, sum);
					}
			}
			for (int64_t co0 = 0; dw && co0 < g->cout; co0 += 5) {
				int cb = (int)(g->cout - co0 < 5 ? g->cout - co0 : 5);
				for (int64_t k0 = 0; k0 < s->k;) {
					int kb = s->k - k0 >= 5 ? 5 : 1;
					FN(small_dw)(vacc, xsg, dyg, dys, ng, g, s, co0,
						     k0, cb, kb);
					k0 += kb;
				}
			}
			if (a->dx)
				FN(small_dx_samples)(a, n, n + ng, copies);
		}
		if (dw)
			for (int64_t e = 0; e < nw; e++)
				dw[e] += FN(vsum)(FN(vload)(vacc + e * VL));
		if (db)
			for (int64_t co = 0; co < g->cout; co++)
				db[co] += FN(vsum)(FN(vload)(vdb + co * VL));
	}
}

/* Forward: tasks t = n * ntiles + tile index. */
static void FN(conv_forward_task)(void *arg, int64_t begin, int64_t end,
				  int chunk)
{
	const struct FN(conv_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
	int direct = conv_direct(g);
	/* the 1x1 case needs no col buffer, and work may be NULL */
	real *col = direct ? NULL : a->work + conv_thread_off(g, VL, chunk);

	for (int64_t t = begin; t < end; t++) {
		int64_t n = t / a->ntiles, p0 = t % a->ntiles * a->tile;
		int64_t np = p - p0 < a->tile ? p - p0 : a->tile;
		const real *xn = a->x + n * g->cin * g->h * g->w;
		real *yn = a->y + n * g->cout * p + p0;
		const real *B = col;
		int64_t ldb = np;
		real beta = 0;

		if (direct) {
			B = xn + p0;
			ldb = p;
		} else {
			FN(im2col)(col, xn, g, p0, np);
		}
		if (a->b) {
			for (int64_t co = 0; co < g->cout; co++)
				for (int64_t j = 0; j < np; j++)
					yn[co * p + j] = a->b[co];
			beta = 1;
		}
		GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout,
		     (int)np, (int)k, 1, a->w, (int)k, B, (int)ldb, beta, yn,
		     (int)p);
	}
}

void FN(qt_conv2d_forward_path)(real *y, const real *x, const real *w,
				const real *b, const qt_conv2d_geom *g,
				void *work, struct qt_pool *pool,
				qt_conv2d_path path)
{
	struct FN(conv_args) a = {.y = y, .x = x, .w = w, .b = b, .g = g,
				  .work = work};
	if (conv_wino(g, VL, path)) {
		FN(qt_wino_forward)(y, x, w, b, g, work, pool);
		return;
	}
	if (conv_small(g, VL)) {
		struct small s;
		small_geom(&s, g, VL);
		struct FN(small_args) sa = {.y = y, .x = x, .w = w, .b = b,
					    .g = g, .s = &s, .work = work};
		qt_pool_for(pool, g->n, FN(small_forward_task), &sa);
		return;
	}
	a.tile = conv_tile(g);
	a.ntiles = a.tile > 0 ? (g->oh * g->ow + a.tile - 1) / a.tile : 0;
	qt_pool_for(pool, g->n * a.ntiles, FN(conv_forward_task), &a);
}

/* Backward over slots [begin, end) of consecutive samples. */
static void FN(conv_backward_task)(void *arg, int64_t begin, int64_t end,
				   int chunk)
{
	const struct FN(conv_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t k = g->cin * g->kh * g->kw, p = g->oh * g->ow;
	int64_t hw = g->h * g->w, ns = conv_slots(g, VL);
	int direct = conv_direct(g);
	real *col = direct ? NULL : a->work + conv_thread_off(g, VL, chunk);
	real *dcol = direct ? NULL : col + k * a->tile;

	for (int64_t s = begin; s < end; s++) {
		real *dw = a->dw, *db = a->db;
		if (s > 0) {
			/* slot s > 0 sums into its own zeroed partial */
			real *part = a->work + (s - 1) * (g->cout * k + g->cout);
			memset(part, 0,
			       (size_t)(g->cout * k + g->cout) * sizeof(real));
			dw = dw ? part : NULL;
			db = db ? part + g->cout * k : NULL;
		}
		for (int64_t n = slot_begin(g->n, ns, s);
		     n < slot_begin(g->n, ns, s + 1); n++) {
			const real *xn = a->x + n * g->cin * hw;
			const real *dyn = a->dy + n * g->cout * p;
			real *dxn = a->dx ? a->dx + n * g->cin * hw : NULL;
			if (dxn && !direct)
				memset(dxn, 0, (size_t)(g->cin * hw) * sizeof(real));
			for (int64_t p0 = 0; p0 < p; p0 += a->tile) {
				int64_t np = p - p0 < a->tile ? p - p0 : a->tile;
				if (dw) {
					const real *B = xn + p0;
					int64_t ldb = p;
					if (!direct) {
						FN(im2col)(col, xn, g, p0, np);
						B = col;
						ldb = np;
					}
					GEMM(CblasRowMajor, CblasNoTrans,
					     CblasTrans, (int)g->cout, (int)k,
					     (int)np, 1, dyn + p0, (int)p, B,
					     (int)ldb, 1, dw, (int)k);
				}
				if (db) {
					for (int64_t co = 0; co < g->cout; co++) {
						const real *d = dyn + co * p + p0;
						double sum = 0;
						for (int64_t j = 0; j < np; j++)
							sum += d[j];
						db[co] += (real)sum;
					}
				}
				if (dxn && direct) {
					GEMM(CblasRowMajor, CblasTrans,
					     CblasNoTrans, (int)k, (int)np,
					     (int)g->cout, 1, a->w, (int)k,
					     dyn + p0, (int)p, 0, dxn + p0,
					     (int)p);
				} else if (dxn) {
					GEMM(CblasRowMajor, CblasTrans,
					     CblasNoTrans, (int)k, (int)np,
					     (int)g->cout, 1, a->w, (int)k,
					     dyn + p0, (int)p, 0, dcol, (int)np);
					FN(col2im)(dxn, dcol, g, p0, np);
				}
			}
		}
	}
}

/* dw and db += the partial sums of slots 1.., in slot order, over
 * elements [begin, end) of the concatenation (dw, db). */
static void FN(conv_reduce_task)(void *arg, int64_t begin, int64_t end,
				 int chunk)
{
	const struct FN(conv_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t nw = g->cout * g->cin * g->kh * g->kw, stride = nw + g->cout;
	int64_t ns = conv_slots(g, VL);

	for (int64_t e = begin; e < end; e++) {
		if ((e < nw && !a->dw) || (e >= nw && !a->db))
			continue;
		real *dst = e < nw ? a->dw + e : a->db + (e - nw);
		real sum = *dst;
		for (int64_t s = 1; s < ns; s++)
			sum += a->work[(s - 1) * stride + e];
		*dst = sum;
	}
}

void FN(qt_conv2d_backward_path)(real *dx, real *dw, real *db,
				 const real *dy, const real *x, const real *w,
				 const qt_conv2d_geom *g, void *work,
				 struct qt_pool *pool, qt_conv2d_path path)
{
	struct FN(conv_args) a = {.dx = dx, .dw = dw, .db = db, .dy = dy,
				  .x = x, .w = w, .g = g, .work = work};
	int64_t ns = conv_slots(g, VL);
	if (g->n == 0)
		return;
	if (conv_wino(g, VL, path)) {
		FN(qt_wino_backward)(dx, dw, db, dy, x, w, g, work, pool);
		return;
	}
	if (conv_small(g, VL)) {
		struct small s;
		small_geom(&s, g, VL);
		struct FN(small_args) sa = {.dx = dx, .dw = dw, .db = db,
					    .dy = dy, .x = x, .w = w, .g = g,
					    .s = &s, .work = work};
		qt_pool_for(pool, ns, FN(small_backward_task), &sa);
	} else {
		a.tile = conv_tile(g);
		qt_pool_for(pool, ns, FN(conv_backward_task), &a);
	}
	/* a small reduction is cheaper on the caller than waking the pool;
	 * the sums are the same either way */
	int64_t nred = g->cout * g->cin * g->kh * g->kw + g->cout;
	if (ns > 1 && (dw || db))
		qt_pool_for(nred * (ns - 1) < INLINE_WORK ? NULL : pool, nred,
			    FN(conv_reduce_task), &a);
}

void FN(qt_conv2d_forward)(real *y, const real *x, const real *w,
			   const real *b, const qt_conv2d_geom *g, void *work,
			   struct qt_pool *pool)
{
	FN(qt_conv2d_forward_path)(y, x, w, b, g, work, pool, QT_CONV2D_AUTO);
}

void FN(qt_conv2d_backward)(real *dx, real *dw, real *db, const real *dy,
			    const real *x, const real *w,
			    const qt_conv2d_geom *g, void *work,
			    struct qt_pool *pool)
{
	FN(qt_conv2d_backward_path)(dx, dw, db, dy, x, w, g, work, pool,
				    QT_CONV2D_AUTO);
}

#endif
