/* pool2d.c: max, average and global average pooling over (H, W) planes,
 * forward and backward.
 *
 *   x (N, C, H, W) seen as nc = N*C planes, y (N, C, OH, OW),
 *   OH = floor((H - kh) / sh) + 1, OW likewise (no padding, floor mode)
 *   max:     y = max over the window; argmax (int32) = ih*W + iw of the
 *            first maximum in row-major window order, NaN wins
 *   average: y = sum over the window / (kh*kw)
 *   global:  y (N, C) = mean over H*W (summed in double)
 * Backward overwrites dx: max routes dy to argmax, average spreads
 * dy / (kh*kw) over the window, global spreads dy / (H*W).
 *
 * Reference: torch.nn.functional.max_pool2d(x, (kh, kw), (sh, sw),
 * return_indices=True), avg_pool2d(x, (kh, kw), (sh, sw)), and
 * x.mean(dim=(2, 3)).  The NaN and tie rules are those of ATen's CPU
 * max-pooling kernel.
 *
 * Parallelism: planes are independent; the pool shares them out, unless
 * the input has under INLINE elements: then waking the pool (10-30 us)
 * costs more than the work, which runs on the caller.  Each plane's
 * result is the same either way.
 */
#ifndef REAL_TEMPLATE
#include "kernels/cpu.h"
#include "common/threadpool.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/vec.h"

#define INLINE ((int64_t)1 << 18)

/* The pool for nc planes of h*w elements: NULL for small inputs. */
static struct qt_pool *pool_for_planes(struct qt_pool *pool, int64_t nc,
				       int64_t hw)
{
	return nc * hw < INLINE ? NULL : pool;
}

#define KERNEL_FILE "kernels/pool2d.c"
#include "kernels/template.h"
#else
#include "kernels/vec.h"

struct FN(pool_args) {
	real *y, *dx;
	int32_t *argmax;
	const real *x, *dy;
	const int32_t *argmax_in;
	const qt_pool2d_geom *g;
	int64_t nc, hw;
};

/* The 2x2, stride 2 window of most CNNs, one plane: the same rule as the
 * general loop (first maximum in row-major order, a NaN wins), taken as
 * the better of each row's pair, then the second row's only if it is
 * strictly greater or NaN; branch-free, so the compiler vectorises it. */
static void FN(maxpool2x2_plane)(real *y, int32_t *am, const real *x,
				 const qt_pool2d_geom *g)
{
	for (int64_t i = 0; i < g->oh; i++) {
		const real *ra = x + 2 * i * g->w, *rb = ra + g->w;
		real *yr = y + i * g->ow;
		int32_t *ar = am + i * g->ow;
		int32_t base = (int32_t)(2 * i * g->w);
		for (int64_t j = 0; j < g->ow; j++) {
			real a0 = ra[2 * j], a1 = ra[2 * j + 1];
			real b0 = rb[2 * j], b1 = rb[2 * j + 1];
			int ta = a1 > a0 || a1 != a1, tb = b1 > b0 || b1 != b1;
			real ma = ta ? a1 : a0, mb = tb ? b1 : b0;
			int32_t ia = (int32_t)(2 * j) + ta;
			int32_t ib = (int32_t)(2 * j + g->w) + tb;
			int t = mb > ma || mb != mb;
			yr[j] = t ? mb : ma;
			ar[j] = base + (t ? ib : ia);
		}
	}
}

#ifdef QT_VEC_SHUFFLE
/* The 2x2 rule on vectors: the candidates a0 a1 (first row) b0 b1 of VL
 * windows give the maxima *y and each one's offset from a0 in the plane
 * (0, 1, W or W + 1). */
static inline void FN(max4)(VEC *y, IVEC *off, VEC a0, VEC a1, VEC b0,
			    VEC b1, int64_t w)
{
	IVEC ta = (a1 > a0) | (a1 != a1), tb = (b1 > b0) | (b1 != b1);
	VEC ma = FN(vselect)(ta, a1, a0), mb = FN(vselect)(tb, b1, b0);
	IVEC t = (mb > ma) | (mb != mb);
	*y = FN(vselect)(t, mb, ma);
	*off = (t & ((FN(ilane))w + (tb & 1))) | (~t & (ta & 1));
}

static inline void FN(store_max)(real *y, int32_t *am, VEC v, IVEC idx)
{
	FN(i32vec) i = __builtin_convertvector(idx, FN(i32vec));
	FN(vstore)(y, v);
	memcpy(am, &i, sizeof i);
}

/* OW a multiple of VL: per row pair, VL windows from two vectors of each
 * row, split into even and odd columns. */
static void FN(maxpool2x2_wide)(real *y, int32_t *am, const real *x,
				const qt_pool2d_geom *g)
{
	IVEC ev, od;
	for (int64_t t = 0; t < VL; t++) {
		ev[t] = (FN(ilane))(2 * t);
		od[t] = (FN(ilane))(2 * t + 1);
	}
	for (int64_t i = 0; i < g->oh; i++) {
		const real *ra = x + 2 * i * g->w, *rb = ra + g->w;
		for (int64_t j0 = 0; j0 < g->ow; j0 += VL) {
			VEC al = FN(vload)(ra + 2 * j0), ah = FN(vload)(ra + 2 * j0 + VL);
			VEC bl = FN(vload)(rb + 2 * j0), bh = FN(vload)(rb + 2 * j0 + VL);
			VEC v;
			IVEC off;
			FN(max4)(&v, &off, __builtin_shuffle(al, ah, ev),
				 __builtin_shuffle(al, ah, od),
				 __builtin_shuffle(bl, bh, ev),
				 __builtin_shuffle(bl, bh, od), g->w);
			off += ev + (FN(ilane))(2 * i * g->w + 2 * j0);
			FN(store_max)(y + i * g->ow + j0, am + i * g->ow + j0, v,
				      off);
		}
	}
}

/* W = 2 OW, H even, OW dividing VL / 2, and VL and OH*OW multiples one of
 * the other: the planes' row pairs follow each other, 4 OW elements
 * making OW windows, so VL windows are 4 VL consecutive elements.
 * Returns the planes done (whole vectors of windows); the caller does
 * the rest. */
static int64_t FN(maxpool2x2_narrow)(real *y, int32_t *am, const real *x,
				     const qt_pool2d_geom *g, int64_t planes)
{
	int64_t ow = g->ow, po = g->oh * ow, pi = g->h * g->w, half = VL / 2;
	int64_t chunks = planes * po / VL;
	IVEC pa, mc, rel0;
	for (int64_t t = 0; t < VL; t++) {
		int64_t u = t % half, at = 4 * ow * (t / ow) + 2 * (t % ow);
		pa[t] = (FN(ilane))(4 * ow * (u / ow) + 2 * (u % ow));
		mc[t] = (FN(ilane))(t < half ? t : VL + t - half);
		rel0[t] = (FN(ilane))(VL % po == 0 ? at % pi : at);
	}
	IVEC pa1 = pa + 1, pb0 = pa + (FN(ilane))(2 * ow), pb1 = pb0 + 1;
	for (int64_t k = 0; k < chunks; k++) {
		const real *xb = x + 4 * VL * k;
		VEC v0 = FN(vload)(xb), v1 = FN(vload)(xb + VL);
		VEC v2 = FN(vload)(xb + 2 * VL), v3 = FN(vload)(xb + 3 * VL);
#define PICK(m) __builtin_shuffle(__builtin_shuffle(v0, v1, m), \
				  __builtin_shuffle(v2, v3, m), mc)
		VEC v;
		IVEC off;
		FN(max4)(&v, &off, PICK(pa), PICK(pa1), PICK(pb0), PICK(pb1),
			 g->w);
#undef PICK
		off += rel0 + (FN(ilane))(VL % po == 0 ? 0 : 4 * VL * k % pi);
		FN(store_max)(y + VL * k, am + VL * k, v, off);
	}
	return chunks * VL / po;
}
#endif

static void FN(maxpool_forward_task)(void *arg, int64_t begin, int64_t end,
				     int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2) {
		int64_t po = g->oh * g->ow, pi = g->h * g->w;
#ifdef QT_VEC_SHUFFLE
		if (g->ow % VL == 0) {
			for (int64_t c = begin; c < end; c++)
				FN(maxpool2x2_wide)(a->y + c * po, a->argmax + c * po,
						    a->x + c * pi, g);
			return;
		}
		if (g->h % 2 == 0 && g->w == 2 * g->ow && (VL / 2) % g->ow == 0 &&
		    (VL % po == 0 || po % VL == 0))
			begin += FN(maxpool2x2_narrow)(a->y + begin * po,
						       a->argmax + begin * po,
						       a->x + begin * pi, g,
						       end - begin);
#endif
		for (int64_t c = begin; c < end; c++)
			FN(maxpool2x2_plane)(a->y + c * po, a->argmax + c * po,
					     a->x + c * pi, g);
		return;
	}
	for (int64_t c = begin; c < end; c++) {
		const real *x = a->x + c * g->h * g->w;
		real *y = a->y + c * g->oh * g->ow;
		int32_t *am = a->argmax + c * g->oh * g->ow;
		for (int64_t i = 0; i < g->oh; i++)
		for (int64_t j = 0; j < g->ow; j++) {
			int64_t ih0 = i * g->sh, iw0 = j * g->sw;
			int64_t best = ih0 * g->w + iw0;
			real m = -(real)INFINITY;
			for (int64_t ki = 0; ki < g->kh; ki++)
			for (int64_t kj = 0; kj < g->kw; kj++) {
				int64_t idx = (ih0 + ki) * g->w + iw0 + kj;
				real v = x[idx];
				if (v > m || v != v) {
					m = v;
					best = idx;
				}
			}
			y[i * g->ow + j] = m;
			am[i * g->ow + j] = (int32_t)best;
		}
	}
}

void FN(qt_maxpool2d_forward)(real *y, int32_t *argmax, const real *x,
			      const qt_pool2d_geom *g, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.y = y, .argmax = argmax, .x = x, .g = g};
	qt_pool_for(pool_for_planes(pool, g->nc, g->h * g->w), g->nc,
		    FN(maxpool_forward_task), &a);
}

#ifdef QT_VEC_SHUFFLE
/* Backward of the vectorised 2x2 paths: the four candidates' gradients
 * (dy where the saved offset `off` from a0 picks it, else zero; + 0 turns
 * a -0 into the +0 that 0 + dy gives).  Returns the lanes whose offset is
 * none of 0, 1, W, W + 1: argmax from elsewhere than a 2x2 forward. */
static inline IVEC FN(route4)(VEC *a0, VEC *a1, VEC *b0, VEC *b1, VEC dy,
			      IVEC off, int64_t w)
{
	VEC z = {0};
	FN(ilane) lw = (FN(ilane))w;
	IVEC m0 = off == 0, m1 = off == 1, m2 = off == lw, m3 = off == lw + 1;
	*a0 = FN(vselect)(m0, dy, z) + z;
	*a1 = FN(vselect)(m1, dy, z) + z;
	*b0 = FN(vselect)(m2, dy, z) + z;
	*b1 = FN(vselect)(m3, dy, z) + z;
	return ~(m0 | m1 | m2 | m3);
}

static inline IVEC FN(load_am)(const int32_t *am)
{
	FN(i32vec) i;
	memcpy(&i, am, sizeof i);
	return __builtin_convertvector(i, IVEC);
}

/* As maxpool2x2_wide (H = 2 OH, W = 2 OW); returns nonzero when some
 * argmax lies outside its window. */
static int FN(maxpool2x2_wide_back)(real *dx, const real *dy,
				    const int32_t *am, const qt_pool2d_geom *g)
{
	IVEC ev, lo, hi, bad = {0};
	for (int64_t t = 0; t < VL; t++) {
		ev[t] = (FN(ilane))(2 * t);
		lo[t] = (FN(ilane))(t / 2 + (t % 2) * VL);
		hi[t] = (FN(ilane))(VL / 2 + t / 2 + (t % 2) * VL);
	}
	for (int64_t i = 0; i < g->oh; i++) {
		real *ra = dx + 2 * i * g->w, *rb = ra + g->w;
		for (int64_t j0 = 0; j0 < g->ow; j0 += VL) {
			int64_t o = i * g->ow + j0;
			IVEC off = FN(load_am)(am + o) - ev -
				   (FN(ilane))(2 * i * g->w + 2 * j0);
			VEC a0, a1, b0, b1;
			bad |= FN(route4)(&a0, &a1, &b0, &b1, FN(vload)(dy + o), off,
					  g->w);
			FN(vstore)(ra + 2 * j0, __builtin_shuffle(a0, a1, lo));
			FN(vstore)(ra + 2 * j0 + VL, __builtin_shuffle(a0, a1, hi));
			FN(vstore)(rb + 2 * j0, __builtin_shuffle(b0, b1, lo));
			FN(vstore)(rb + 2 * j0 + VL, __builtin_shuffle(b0, b1, hi));
		}
	}
	for (int64_t t = 0; t < VL; t++)
		if (bad[t])
			return 1;
	return 0;
}

/* As maxpool2x2_narrow: the planes done, or -1 when some argmax lies
 * outside its window. */
static int64_t FN(maxpool2x2_narrow_back)(real *dx, const real *dy,
					  const int32_t *am,
					  const qt_pool2d_geom *g,
					  int64_t planes)
{
	int64_t ow = g->ow, po = g->oh * ow, pi = g->h * g->w, half = VL / 2;
	int64_t chunks = planes * po / VL;
	IVEC rel0, il0, il1, m0, m1, bad = {0};
	for (int64_t t = 0; t < VL; t++) {
		int64_t at = 4 * ow * (t / ow) + 2 * (t % ow);
		rel0[t] = (FN(ilane))(VL % po == 0 ? at % pi : at);
		/* a0 a1 interleaved: windows [0, VL/2) then [VL/2, VL) */
		il0[t] = (FN(ilane))(t / 2 + (t % 2) * VL);
		il1[t] = (FN(ilane))(half + t / 2 + (t % 2) * VL);
		/* element p of the block: row pair p / 4ow, row, column */
		for (int k = 0; k < 2; k++) {
			int64_t p = k * VL + t, q = p % (4 * ow);
			int64_t idx = p / (4 * ow) * 2 * ow + q % (2 * ow) +
				      (q >= 2 * ow ? VL : 0);
			if (k)
				m1[t] = (FN(ilane))idx;
			else
				m0[t] = (FN(ilane))idx;
		}
	}
	for (int64_t k = 0; k < chunks; k++) {
		real *xb = dx + 4 * VL * k;
		IVEC off = FN(load_am)(am + VL * k) - rel0 -
			   (FN(ilane))(VL % po == 0 ? 0 : 4 * VL * k % pi);
		VEC a0, a1, b0, b1;
		bad |= FN(route4)(&a0, &a1, &b0, &b1, FN(vload)(dy + VL * k), off,
				  g->w);
		VEC al = __builtin_shuffle(a0, a1, il0), ah = __builtin_shuffle(a0, a1, il1);
		VEC bl = __builtin_shuffle(b0, b1, il0), bh = __builtin_shuffle(b0, b1, il1);
		FN(vstore)(xb, __builtin_shuffle(al, bl, m0));
		FN(vstore)(xb + VL, __builtin_shuffle(al, bl, m1));
		FN(vstore)(xb + 2 * VL, __builtin_shuffle(ah, bh, m0));
		FN(vstore)(xb + 3 * VL, __builtin_shuffle(ah, bh, m1));
	}
	for (int64_t t = 0; t < VL; t++)
		if (bad[t])
			return -1;
	return chunks * VL / po;
}
#endif

static void FN(maxpool_backward_task)(void *arg, int64_t begin, int64_t end,
				      int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	int64_t po = g->oh * g->ow;
#ifdef QT_VEC_SHUFFLE
	/* Disjoint 2x2 windows tiling the plane (a 2x2, stride 2 forward):
	 * each dx element gets dy or zero.  The paths check that every
	 * argmax is in its window, and leave the call to the loop below
	 * otherwise (which then rewrites dx). */
	int64_t pi = g->h * g->w;
	if (g->h == 2 * g->oh && g->w == 2 * g->ow) {
		if (g->ow % VL == 0) {
			int bad = 0;
			for (int64_t c = begin; c < end && !bad; c++)
				bad = FN(maxpool2x2_wide_back)(a->dx + c * pi,
							       a->dy + c * po,
							       a->argmax_in + c * po,
							       g);
			if (!bad)
				return;
		} else if ((VL / 2) % g->ow == 0 &&
			   (VL % po == 0 || po % VL == 0)) {
			int64_t done = FN(maxpool2x2_narrow_back)(
				a->dx + begin * pi, a->dy + begin * po,
				a->argmax_in + begin * po, g, end - begin);
			if (done >= 0)
				begin += done;
		}
	}
#endif
	for (int64_t c = begin; c < end; c++) {
		real *dx = a->dx + c * g->h * g->w;
		const real *dy = a->dy + c * po;
		const int32_t *am = a->argmax_in + c * po;
		memset(dx, 0, (size_t)(g->h * g->w) * sizeof(real));
		for (int64_t o = 0; o < po; o++)
			dx[am[o]] += dy[o];
	}
}

void FN(qt_maxpool2d_backward)(real *dx, const real *dy,
			       const int32_t *argmax, const qt_pool2d_geom *g,
			       struct qt_pool *pool)
{
	struct FN(pool_args) a = {.dx = dx, .dy = dy, .argmax_in = argmax,
				  .g = g};
	qt_pool_for(pool_for_planes(pool, g->nc, g->h * g->w), g->nc,
		    FN(maxpool_backward_task), &a);
}

static void FN(avgpool_forward_task)(void *arg, int64_t begin, int64_t end,
				     int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	real div = (real)(g->kh * g->kw);
	for (int64_t c = begin; c < end; c++) {
		const real *x = a->x + c * g->h * g->w;
		real *y = a->y + c * g->oh * g->ow;
		for (int64_t i = 0; i < g->oh; i++)
		for (int64_t j = 0; j < g->ow; j++) {
			const real *xw = x + i * g->sh * g->w + j * g->sw;
			real sum = 0;
			for (int64_t ki = 0; ki < g->kh; ki++)
				for (int64_t kj = 0; kj < g->kw; kj++)
					sum += xw[ki * g->w + kj];
			y[i * g->ow + j] = sum / div;
		}
	}
}

void FN(qt_avgpool2d_forward)(real *y, const real *x, const qt_pool2d_geom *g,
			      struct qt_pool *pool)
{
	struct FN(pool_args) a = {.y = y, .x = x, .g = g};
	qt_pool_for(pool_for_planes(pool, g->nc, g->h * g->w), g->nc,
		    FN(avgpool_forward_task), &a);
}

static void FN(avgpool_backward_task)(void *arg, int64_t begin, int64_t end,
				      int chunk)
{
	const struct FN(pool_args) *a = arg;
	const qt_pool2d_geom *g = a->g;
	real div = (real)(g->kh * g->kw);
	for (int64_t c = begin; c < end; c++) {
		real *dx = a->dx + c * g->h * g->w;
		const real *dy = a->dy + c * g->oh * g->ow;
		memset(dx, 0, (size_t)(g->h * g->w) * sizeof(real));
		for (int64_t i = 0; i < g->oh; i++)
		for (int64_t j = 0; j < g->ow; j++) {
			real *dxw = dx + i * g->sh * g->w + j * g->sw;
			real d = dy[i * g->ow + j] / div;
			for (int64_t ki = 0; ki < g->kh; ki++)
				for (int64_t kj = 0; kj < g->kw; kj++)
					dxw[ki * g->w + kj] += d;
		}
	}
}

void FN(qt_avgpool2d_backward)(real *dx, const real *dy,
			       const qt_pool2d_geom *g, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.dx = dx, .dy = dy, .g = g};
	qt_pool_for(pool_for_planes(pool, g->nc, g->h * g->w), g->nc,
		    FN(avgpool_backward_task), &a);
}

static void FN(gap_forward_task)(void *arg, int64_t begin, int64_t end,
				 int chunk)
{
	const struct FN(pool_args) *a = arg;
	for (int64_t c = begin; c < end; c++) {
		const real *x = a->x + c * a->hw;
		double sum = 0;
		for (int64_t i = 0; i < a->hw; i++)
			sum += x[i];
		a->y[c] = (real)(sum / (double)a->hw);
	}
}

void FN(qt_global_avgpool2d_forward)(real *y, const real *x, int64_t nc,
				     int64_t hw, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.y = y, .x = x, .nc = nc, .hw = hw};
	qt_pool_for(pool_for_planes(pool, nc, hw), nc, FN(gap_forward_task), &a);
}

static void FN(gap_backward_task)(void *arg, int64_t begin, int64_t end,
				  int chunk)
{
	const struct FN(pool_args) *a = arg;
	for (int64_t c = begin; c < end; c++) {
		real *dx = a->dx + c * a->hw;
		real d = a->dy[c] / (real)a->hw;
		for (int64_t i = 0; i < a->hw; i++)
			dx[i] = d;
	}
}

void FN(qt_global_avgpool2d_backward)(real *dx, const real *dy, int64_t nc,
				      int64_t hw, struct qt_pool *pool)
{
	struct FN(pool_args) a = {.dx = dx, .dy = dy, .nc = nc, .hw = hw};
	qt_pool_for(pool_for_planes(pool, nc, hw), nc, FN(gap_backward_task),
		    &a);
}

#endif
