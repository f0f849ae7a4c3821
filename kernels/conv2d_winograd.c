/* conv2d_winograd.c: 3x3 stride-1 convolution by Winograd's minimal
 * filtering F(4x4, 3x3): forward, input gradient and weight gradient.
 *
 *   x (N, Cin, H, W), w (Cout, Cin, 3, 3), b (Cout) or NULL,
 *   y (N, Cout, OH, OW), y[n, co, i, j] = b[co] + sum_{ci,ki,kj}
 *                     w[co, ci, ki, kj] x[n, ci, i - pt + ki, j - pl + kj]
 *   backward: dx overwritten, dw += and db += (accumulated)
 *
 * Reference: A. Lavin and S. Gray, "Fast Algorithms for Convolutional
 * Neural Networks", CVPR 2016 (the algorithm and the F(4x4, 3x3)
 * construction), with the interpolation points 0, 1, -1, 2, -1/2 and
 * infinity instead of Lavin's 0, 1, -1, 2, -2, infinity: points that
 * are not symmetric about 0 give smaller rounding errors (B. Barabasz,
 * A. Anderson, K. Soodhalter, D. Gregg, "Error Analysis and Improving
 * the Accuracy of Winograd Convolution for Deep Neural Networks", ACM
 * TOMS 2020); in float32 these gave 2 to 4 times smaller errors than
 * Lavin's on the eor regressor's layers, measured against the float64
 * direct convolution (docs/KERNELS.md):
 *
 *   B^T = [2  3 -4 -3  2 0]   G = [1/2    0     0 ]
 *         [0  2  5  1 -2 0]       [1/6   1/6   1/6]
 *         [0  2  1 -5  2 0]       [1/6  -1/6   1/6]
 *         [0 -1 -2  1  2 0]       [1/30  1/15  2/15]
 *         [0 -2  1  2 -1 0]       [16/15 -8/15 4/15]
 *         [0  2  3 -4 -3 2]       [0      0    1/2]
 *
 *   A^T = [1 1  1 1    1    0]    y = A^T [(G g G^T) (.) (B^T d B)] A
 *         [0 1 -1 2 -1/2    0]    for a 6x6 input patch d, a 3x3
 *         [0 1  1 4  1/4    0]    kernel g and the 4x4 output y
 *         [0 1 -1 8 -1/8    1]    ((.) elementwise).
 *
 * The output is cut into 4x4 tiles (zeros beyond OH, OW); tile (ti, tj)
 * reads the 6x6 input patch d at rows 4 ti - pt + 0..5 and columns
 * 4 tj - pl + 0..5 (zeros outside x), and with the 36 positions
 * xi = 6 k + l of the transformed domain
 *   U[xi][co][ci] = (G w[co][ci] G^T)[k][l]      once per call
 *   V[xi][ci][t]  = (B^T d[ci] B)[k][l]          per tile t
 *   M[xi][co][t]  = sum_ci U[xi][co][ci] V[xi][ci][t]   36 GEMMs
 *   y tile        = A^T M[.][co][t] A            (+ b)
 * 36 multiplications per 16 outputs and input channel instead of 144.
 *
 * Backward.  dx is the same convolution of dy (Cout channels) with the
 * kernels flipped and transposed, w'[ci][co][ki][kj] = w[co][ci][2-ki][2-kj],
 * and padding 2 - pt, 2 - pl, over dx's H x W.  dw comes from the same
 * bilinear form read the other way (Lavin's F(3x3, 4x4) by duality): for
 * the dy tile e (4x4, zeros beyond OH, OW) of each tile,
 *   E[xi][co][t]   = (A e[co] A^T)[k][l]
 *   Mw[xi][co][ci] = sum_{n,t} E[xi][co][t] V[xi][ci][t]   36 GEMMs
 *   dw[co][ci]    += G^T Mw[.][co][ci] G          once per call.
 *
 * Vectors (kernels/vec.h) run over VL tiles of a tile row.  The input
 * rows a tile row reads are first split by column phase,
 *   P[r][p][j] = x[row0 + r][4 j + p - pl],   p = 0..3,
 * so that column c of tile j is P[r][c % 4][j + c / 4]: every operand
 * of the transforms is one contiguous vector load.  Tiles are numbered
 * tile row by tile row: t = (tile row - first of the block) * TW + tj.
 *
 * Work split, fixed by the shapes alone (results do not depend on the
 * thread count): the forward pass and dx cut the N * TH tile rows into
 * blocks of RB consecutive tile rows (a block may run over from one
 * sample to the next); a task transforms a block, runs its 36 GEMMs
 * (register blocks of 6 channels by 4 vectors of tiles) and writes its
 * outputs.  dw, for filters whose Mw takes at most 1 MiB, cuts the
 * batch into min(N, 16) slots of consecutive samples: a task takes a
 * slot's tile rows block by block into its own Mw (BLAS GEMMs, one
 * thread), transforms it back into the slot's partial dw, and the
 * partial sums are added in slot order at the end.  Larger filters go
 * through the tile rows in rounds: a round's transforms are shared out
 * by channel, then its 36 GEMMs by position xi, each adding into its
 * own plane of one Mw in round order; Mw is transformed back at the
 * end, shared out by filter.
 *
 * Workspace (elements, each part rounded up to a vector): first
 * 36 Cin Cout for U (forward), Mw or U' (backward), or the partial dw
 * of slots 1.. where that is larger; then one region per thread of a
 * block's V and M and a phase buffer (forward, dx), or of Mw, a block's
 * V and E and a phase buffer (dw by slots), or a round's V and E and a
 * phase buffer per thread (dw by rounds), whichever is largest.
 */
#ifndef REAL_TEMPLATE
#include "kernels/conv2d_winograd.h"
#include "common/threadpool.h"

#include "kernels/vec.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define NXI 36 /* positions of the transformed 6x6 tile */

/* Forward and dx blocks: at least BLOCK_TILES tiles (or one tile row),
 * a thread's transforms (V and M) within BLOCK_BYTES (L2) where that
 * allows more (wino_setup). */
#define BLOCK_TILES 48
#define BLOCK_BYTES ((int64_t)640 << 10)
/* dw rounds: tiles per round, and the round's V and E within this. */
#define ROUND_TILES 1024
#define ROUND_BYTES ((int64_t)3 << 20)
/* dw of filters whose Mw takes at most SLOT_FILTER_BYTES: by slots of
 * samples, each thread with its own Mw, the slots' dw added in order. */
#define SLOT_FILTER_BYTES ((int64_t)1 << 20)
#define SLOTS 16
#define INLINE_WORK ((int64_t)1 << 16) /* less runs on the caller */

struct wino {
	int64_t n, cin, cout; /* channels read, channels written */
	int64_t h, w;         /* input plane */
	int64_t oh, ow;       /* output plane */
	int64_t pt, pl;       /* output (i, j) reads input (i - pt, j - pl) + */
	int64_t th, tw;       /* tile rows per sample, tiles per tile row */
	int64_t nv;           /* vectors over a tile row */
	int64_t jw;           /* one phase of a phase-buffer row: (nv + 1) VL */
	int64_t rb;           /* tile rows per block */
	int64_t nblocks;      /* blocks over the N * TH tile rows */
	int64_t ldt;          /* row stride of a block's V, M, E (rb TW + VL) */
	int64_t vs, ms;       /* stride of an xi plane of V, of M or E */
	int64_t phase;        /* elements of one phase buffer */
};

static int64_t round_up(int64_t a, int64_t m)
{
	return (a + m - 1) / m * m;
}

/* floor(a / b) for b > 0 and any sign of a */
static int64_t div_floor(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The stride of the 36 planes of a block's transforms: an odd number of
 * cache lines, so that the transforms' 36 loads or stores of a tile
 * vector fall into 36 different cache sets (a multiple of 4 KiB would
 * put them all into one). */
static int64_t plane_stride(int64_t elems, int64_t elsize)
{
	int64_t line = 64 / elsize, lines = (elems + line - 1) / line;
	return (lines | 1) * line;
}

/* A block holds the transforms of `ch` channels per tile.  dw rounds
 * (tiles_max): as many tile rows as fit in `bytes`, at most `tiles`
 * tiles, at least one row.  Forward blocks: at least `tiles` tiles (the
 * GEMM's register blocks want whole vectors of tiles), and then the
 * number of rows, up to what fits in `bytes` or twice that minimum,
 * whose blocks leave the fewest lanes of those vectors empty (25x25
 * maps: 9 tile rows of 7 tiles fill 4 vectors of 16). */
static void wino_setup(struct wino *s, int64_t n, int64_t cin, int64_t cout,
		       int64_t h, int64_t w, int64_t oh, int64_t ow,
		       int64_t pt, int64_t pl, int64_t vl, int64_t elsize,
		       int64_t tiles, int64_t bytes, int64_t ch, int tiles_max)
{
	*s = (struct wino){.n = n, .cin = cin, .cout = cout, .h = h, .w = w,
			   .oh = oh, .ow = ow, .pt = pt, .pl = pl};
	s->th = (oh + 3) / 4;
	s->tw = (ow + 3) / 4;
	s->nv = (s->tw + vl - 1) / vl;
	s->jw = (s->nv + 1) * vl;
	int64_t rows = n * s->th, per_row = NXI * ch * s->tw * elsize;
	int64_t rb_mem = bytes / per_row, rb;
	int64_t rb_tiles = (tiles + s->tw - 1) / s->tw;
	if (tiles_max) {
		rb = rb_mem < rb_tiles ? rb_mem : rb_tiles;
		rb = rb < 1 ? 1 : rb;
	} else {
		int64_t lo = rb_tiles < 1 ? 1 : rb_tiles, lanes = -1;
		int64_t hi = rb_mem > 2 * lo ? rb_mem : 2 * lo;
		rb = lo;
		for (int64_t r = lo; r <= hi && r <= rows; r++) {
			int64_t l = rows / r * round_up(r * s->tw, vl) +
				    round_up(rows % r * s->tw, vl);
			if (lanes < 0 || l < lanes)
				rb = r, lanes = l;
		}
	}
	if (rb > rows)
		rb = rows;
	s->rb = rb;
	s->nblocks = rows > 0 ? (rows + rb - 1) / rb : 0;
	s->ldt = round_up(rb * s->tw + vl, vl);
	s->vs = plane_stride(cin * s->ldt, elsize);
	s->ms = plane_stride(cout * s->ldt, elsize);
	s->phase = (4 * (rb < s->th ? rb : s->th) + 2) * 4 * s->jw;
}

/* forward: y from x */
static void wino_fwd_geom(struct wino *s, const qt_conv2d_geom *g, int64_t vl,
			  int64_t elsize)
{
	wino_setup(s, g->n, g->cin, g->cout, g->h, g->w, g->oh, g->ow, g->pt,
		   g->pl, vl, elsize, BLOCK_TILES, BLOCK_BYTES,
		   g->cin + g->cout, 0);
}

/* dx from dy: the flipped kernel, padding 2 - pt, 2 - pl */
static void wino_dx_geom(struct wino *s, const qt_conv2d_geom *g, int64_t vl,
			 int64_t elsize)
{
	wino_setup(s, g->n, g->cout, g->cin, g->oh, g->ow, g->h, g->w,
		   2 - g->pt, 2 - g->pl, vl, elsize, BLOCK_TILES, BLOCK_BYTES,
		   g->cin + g->cout, 0);
}

/* dw: the forward's tiles, in rounds */
static void wino_dw_geom(struct wino *s, const qt_conv2d_geom *g, int64_t vl,
			 int64_t elsize)
{
	wino_setup(s, g->n, g->cin, g->cout, g->h, g->w, g->oh, g->ow, g->pt,
		   g->pl, vl, elsize, ROUND_TILES, ROUND_BYTES,
		   g->cin + g->cout, 1);
}

/* Elements of one thread's region in a forward-like pass. */
static int64_t wino_thread(const struct wino *s, int64_t vl)
{
	return round_up(NXI * (s->vs + s->ms) + s->phase, vl);
}

/* Elements of a dw round's V and E (then a phase buffer per thread). */
static int64_t wino_round(const struct wino *s, int64_t vl)
{
	return round_up(NXI * (s->vs + s->ms), vl);
}

/* dw by slots (small filters) rather than by rounds. */
static int wino_by_slots(const qt_conv2d_geom *g, int64_t elsize)
{
	return NXI * g->cin * g->cout * elsize <= SLOT_FILTER_BYTES;
}

static int64_t wino_slots(int64_t n)
{
	return n < SLOTS ? n : SLOTS;
}

/* First sample of slot s of ns over n samples (as qt_pool_for splits). */
static int64_t slot_begin(int64_t n, int64_t ns, int64_t s)
{
	return (n / ns) * s + (n % ns) * s / ns;
}

/* Elements of a thread's region on the slot path: Mw, a block's V and
 * E, a phase buffer. */
static int64_t wino_slot_thread(const qt_conv2d_geom *g, const struct wino *s,
				int64_t vl)
{
	return round_up(NXI * g->cin * g->cout, vl) + wino_round(s, vl) +
	       round_up(s->phase, vl);
}

/* Elements of the shared region: the transformed filters (U, U', Mw),
 * or on the slot path the partial dw of slots 1.. if larger. */
static int64_t wino_shared(const qt_conv2d_geom *g, int64_t vl,
			   int64_t elsize)
{
	int64_t u = NXI * g->cin * g->cout, p = 0;
	if (wino_by_slots(g, elsize))
		p = (wino_slots(g->n) - 1) * 9 * g->cin * g->cout;
	return round_up((u > p ? u : p) + vl, vl);
}

int qt_wino_fits(const qt_conv2d_geom *g)
{
	return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
	       g->oh >= 1 && g->ow >= 1;
}

size_t qt_wino_row_bytes(const qt_conv2d_geom *g, size_t elsize)
{
	int64_t w = g->ow > g->w ? g->ow : g->w;
	return (size_t)(NXI * (g->cin + g->cout) * ((w + 3) / 4)) * elsize;
}

size_t qt_wino_workspace(const qt_conv2d_geom *g, int nthreads, size_t elsize)
{
	int64_t vl = QT_VBYTES / (int64_t)elsize, es = (int64_t)elsize;
	struct wino f, d, r;
	wino_fwd_geom(&f, g, vl, es);
	wino_dx_geom(&d, g, vl, es);
	wino_dw_geom(&r, g, vl, es);
	int64_t most = nthreads * wino_thread(&f, vl);
	int64_t dx = nthreads * wino_thread(&d, vl);
	int64_t dw = wino_by_slots(g, es)
		? nthreads * wino_slot_thread(g, &r, vl)
		: wino_round(&r, vl) + nthreads * round_up(r.phase, vl);
	if (most < dx)
		most = dx;
	if (most < dw)
		most = dw;
	return (size_t)(wino_shared(g, vl, es) + most) * elsize;
}

#define KERNEL_FILE "kernels/conv2d_winograd.c"
#include "kernels/template.h"
#else
#include "kernels/vec.h"

/* ---- the 1-D transforms, on vectors of tiles ---- */

/* o = B^T d (6 -> 6) */
static inline void FN(wino_bt)(VEC o[6], const VEC d[6])
{
	VEC a = d[3] - d[1], b = d[4] - d[2];
	VEC u = (real)3 * d[2] - (real)2 * a, v = (real)3 * d[3] - (real)2 * b;
	o[0] = (real)2 * (d[0] + d[4]) - (real)4 * d[2] - (real)3 * a;
	o[1] = u + v;
	o[2] = u - v;
	o[3] = a + (real)2 * b;
	o[4] = (real)2 * a - b;
	o[5] = (real)2 * (d[1] + d[5]) - (real)4 * d[3] - (real)3 * b;
}

/* o = A^T m (6 -> 4) */
static inline void FN(wino_at)(VEC o[4], const VEC m[6])
{
	VEC s12 = m[1] + m[2], d12 = m[1] - m[2];
	o[0] = m[0] + s12 + m[3] + m[4];
	o[1] = d12 + (real)2 * m[3] - (real)0.5 * m[4];
	o[2] = s12 + (real)4 * m[3] + (real)0.25 * m[4];
	o[3] = d12 + (real)8 * m[3] - (real)0.125 * m[4] + m[5];
}

/* o = A e (4 -> 6) */
static inline void FN(wino_a)(VEC o[6], const VEC e[4])
{
	VEC s02 = e[0] + e[2], s13 = e[1] + e[3];
	o[0] = e[0];
	o[1] = s02 + s13;
	o[2] = s02 - s13;
	o[3] = e[0] + (real)2 * e[1] + (real)4 * e[2] + (real)8 * e[3];
	o[4] = e[0] - (real)0.5 * e[1] + (real)0.25 * e[2] -
	       (real)0.125 * e[3];
	o[5] = e[3];
}

/* o = G g (3 -> 6) */
static inline void FN(wino_g)(VEC o[6], const VEC g[3])
{
	VEC s02 = g[0] + g[2];
	o[0] = (real)0.5 * g[0];
	o[1] = (s02 + g[1]) * (real)(1.0 / 6);
	o[2] = (s02 - g[1]) * (real)(1.0 / 6);
	o[3] = (g[0] + (real)2 * g[1] + (real)4 * g[2]) * (real)(1.0 / 30);
	o[4] = ((real)4 * g[0] - (real)2 * g[1] + g[2]) * (real)(4.0 / 15);
	o[5] = (real)0.5 * g[2];
}

/* o = G^T m (6 -> 3) */
static inline void FN(wino_gt)(VEC o[3], const VEC m[6])
{
	VEC s12 = (m[1] + m[2]) * (real)(1.0 / 6);
	o[0] = (real)0.5 * m[0] + s12 + m[3] * (real)(1.0 / 30) +
	       m[4] * (real)(16.0 / 15);
	o[1] = (m[1] - m[2]) * (real)(1.0 / 6) + m[3] * (real)(1.0 / 15) -
	       m[4] * (real)(8.0 / 15);
	o[2] = s12 + m[3] * (real)(2.0 / 15) + m[4] * (real)(4.0 / 15) +
	       (real)0.5 * m[5];
}

/* ---- phase buffers and tile transforms ---- */

/* P[(r*4 + p)*jw + j] = plane[row0 + r][4 j + p - pl] for r < nrows,
 * j < jw, zero outside the (h, w) plane. */
static void FN(wino_phase)(real *P, const real *plane, int64_t h, int64_t w,
			   int64_t pl, int64_t jw, int64_t row0, int64_t nrows)
{
	/* j in [jlo, jhi): all four columns 4j - pl .. 4j + 3 - pl inside */
	int64_t jlo = div_floor(pl + 3, 4), jhi = div_floor(w - 4 + pl, 4) + 1;
	jlo = jlo < 0 ? 0 : jlo > jw ? jw : jlo;
	jhi = jhi > jw ? jw : jhi < jlo ? jlo : jhi;
	int64_t jend = div_floor(w - 1 + pl, 4) + 1;
	jend = jend > jw ? jw : jend < jhi ? jhi : jend;
	for (int64_t r = 0; r < nrows; r++) {
		real *q0 = P + r * 4 * jw, *q1 = q0 + jw, *q2 = q1 + jw;
		real *q3 = q2 + jw;
		int64_t ih = row0 + r;
		if (ih < 0 || ih >= h) {
			FN(zero_run)(q0, 4 * jw);
			continue;
		}
		const real *row = plane + ih * w;
		for (int64_t j = jlo; j < jhi; j++) {
			int64_t c = 4 * j - pl;
			q0[j] = row[c];
			q1[j] = row[c + 1];
			q2[j] = row[c + 2];
			q3[j] = row[c + 3];
		}
		/* the edges: [0, jlo) and [jhi, jend) column by column, where
		 * jend is past the last j with a column inside; zeros after */
		for (int64_t j = jlo > 0 ? 0 : jhi; j < jend;
		     j = j + 1 == jlo ? jhi : j + 1)
			for (int64_t p = 0; p < 4; p++) {
				int64_t c = 4 * j + p - pl;
				q0[p * jw + j] = c >= 0 && c < w ? row[c] : 0;
			}
		for (int64_t p = 0; p < 4; p++)
			FN(zero_run)(q0 + p * jw + jend, jw - jend);
	}
}

/* Ask for rows [row0, row0 + nrows) of an (h, w) plane to be brought
 * into cache (for writing when `write`): the next channel's, while this
 * one is transformed.  The hardware prefetchers lose track of so many
 * short runs, one per channel. */
static void FN(wino_prefetch)(const real *plane, int64_t h, int64_t w,
			      int64_t row0, int64_t nrows, int write)
{
	int64_t r0 = row0 < 0 ? 0 : row0;
	int64_t r1 = row0 + nrows > h ? h : row0 + nrows;
	if (r1 <= r0)
		return;
	const char *c = (const char *)(plane + r0 * w);
	int64_t bytes = (r1 - r0) * w * (int64_t)sizeof(real);
	for (int64_t i = 0; i < bytes; i += 64)
		if (write)
			__builtin_prefetch(c + i, 1, 3);
		else
			__builtin_prefetch(c + i, 0, 3);
}

/* V[xi*cs + tr*tw + j] = (B^T d B)[xi] of the tiles j of tile rows
 * tr < nt, from the phase buffer P of their 4 nt + 2 input rows. */
static void FN(wino_tx)(real *V, int64_t cs, const real *P,
			const struct wino *s, int64_t nt)
{
	int64_t jw = s->jw;
	for (int64_t tr = 0; tr < nt; tr++)
	for (int64_t v = 0; v < s->nv; v++) {
		VEC hrow[6][6], in[6], col[6], o[6];
		for (int r = 0; r < 6; r++) {
			const real *pr = P + (4 * tr + r) * 4 * jw + v * VL;
			for (int c = 0; c < 6; c++)
				in[c] = FN(vload)(pr + (c & 3) * jw + (c >> 2));
			FN(wino_bt)(hrow[r], in);
		}
		real *dst = V + tr * s->tw + v * VL;
		for (int l = 0; l < 6; l++) {
			for (int r = 0; r < 6; r++)
				col[r] = hrow[r][l];
			FN(wino_bt)(o, col);
			for (int k = 0; k < 6; k++)
				FN(vstore)(dst + (k * 6 + l) * cs, o[k]);
		}
	}
}

/* E[xi*cs + tr*tw + j] = (A e A^T)[xi] of the dy tiles j of tile rows
 * tr < nt, from the phase buffer P of their 4 nt rows (pl = 0). */
static void FN(wino_te)(real *E, int64_t cs, const real *P,
			const struct wino *s, int64_t nt)
{
	int64_t jw = s->jw;
	for (int64_t tr = 0; tr < nt; tr++)
	for (int64_t v = 0; v < s->nv; v++) {
		VEC hrow[4][6], in[4], col[4], o[6];
		for (int i = 0; i < 4; i++) {
			const real *pr = P + (4 * tr + i) * 4 * jw + v * VL;
			for (int c = 0; c < 4; c++)
				in[c] = FN(vload)(pr + c * jw);
			FN(wino_a)(hrow[i], in);
		}
		real *dst = E + tr * s->tw + v * VL;
		for (int l = 0; l < 6; l++) {
			for (int i = 0; i < 4; i++)
				col[i] = hrow[i][l];
			FN(wino_a)(o, col);
			for (int k = 0; k < 6; k++)
				FN(vstore)(dst + (k * 6 + l) * cs, o[k]);
		}
	}
}

/* Rows 4 ti + i of the output plane yc (oh, ow) for the tile rows
 * ti = ti0 + tr, tr < nt: A^T M A (+ bias), M[xi*cs + tr*tw + j]. */
static void FN(wino_ty)(real *yc, const real *M, int64_t cs, real bias,
			const struct wino *s, int64_t ti0, int64_t nt)
{
	int64_t ow = s->ow;
	for (int64_t tr = 0; tr < nt; tr++)
	for (int64_t v = 0; v < s->nv; v++) {
		VEC t[4][6], col[6], o[4];
		real buf[4][VL];
		const real *src = M + tr * s->tw + v * VL;
		for (int l = 0; l < 6; l++) {
			for (int k = 0; k < 6; k++)
				col[k] = FN(vload)(src + (k * 6 + l) * cs);
			FN(wino_at)(o, col);
			for (int i = 0; i < 4; i++)
				t[i][l] = o[i];
		}
		int64_t j0 = v * VL, nl = s->tw - j0 < VL ? s->tw - j0 : VL;
		int64_t nfull = ow / 4 - j0;
		nfull = nfull < 0 ? 0 : nfull > nl ? nl : nfull;
		for (int i = 0; i < 4; i++) {
			int64_t row = 4 * (ti0 + tr) + i;
			if (row >= s->oh)
				break;
			FN(wino_at)(o, t[i]);
			for (int c = 0; c < 4; c++)
				FN(vstore)(buf[c], o[c] + bias);
			real *yr = yc + row * ow + 4 * j0;
			for (int64_t l = 0; l < nfull; l++) {
				yr[4 * l] = buf[0][l];
				yr[4 * l + 1] = buf[1][l];
				yr[4 * l + 2] = buf[2][l];
				yr[4 * l + 3] = buf[3][l];
			}
			for (int64_t l = nfull; l < nl; l++)
				for (int c = 0; c < 4; c++)
					if (4 * (j0 + l) + c < ow)
						yr[4 * l + c] = buf[c][l];
		}
	}
}

/* ---- the GEMM of the forward-like pass ---- */

/* One register block: M[co][t] = sum_ci U[co][ci] V[ci][t] for channels
 * [co0, co0 + CB) and the tiles of vectors [v0, v0 + NV); U (cout, cin),
 * V (cin, ld), M (cout, ld). */
static inline __attribute__((always_inline)) void
FN(wino_mm_block)(real *M, const real *U, const real *V, int64_t ld,
		  int64_t cin, int64_t co0, int64_t v0, const int CB,
		  const int NV)
{
	VEC acc[6][4], xv[4];
	const real *u = U + co0 * cin, *vp = V + v0 * VL;
	for (int c = 0; c < CB; c++)
		for (int v = 0; v < NV; v++)
			acc[c][v] = FN(vsplat)(0);
	for (int64_t ci = 0; ci < cin; ci++, vp += ld) {
		for (int v = 0; v < NV; v++)
			xv[v] = FN(vload)(vp + v * VL);
		for (int c = 0; c < CB; c++) {
			VEC uc = FN(vsplat)(u[c * cin + ci]);
			for (int v = 0; v < NV; v++)
				acc[c][v] += uc * xv[v];
		}
	}
	for (int c = 0; c < CB; c++)
		for (int v = 0; v < NV; v++)
			FN(vstore)(M + (co0 + c) * ld + (v0 + v) * VL,
				   acc[c][v]);
}

#define MM(cb, nv)                                                          \
	case cb * 8 + nv:                                                   \
		FN(wino_mm_block)(M, U, V, ld, cin, co0, v0, cb, nv);       \
		break;
#define MM4(cb) MM(cb, 1) MM(cb, 2) MM(cb, 3) MM(cb, 4)

/* M = U V over nvec whole vectors of tiles, in register blocks of up to
 * 6 channels by 4 vectors (24 accumulators). */
static void FN(wino_mm)(real *M, const real *U, const real *V, int64_t ld,
			int64_t cout, int64_t cin, int64_t nvec)
{
	for (int64_t co0 = 0; co0 < cout; co0 += 6) {
		int cb = (int)(cout - co0 < 6 ? cout - co0 : 6);
		for (int64_t v0 = 0; v0 < nvec; v0 += 4) {
			int nv = (int)(nvec - v0 < 4 ? nvec - v0 : 4);
			switch (cb * 8 + nv) {
			MM4(1) MM4(2) MM4(3) MM4(4) MM4(5) MM4(6)
			}
		}
	}
}

#undef MM
#undef MM4

/* ---- filter transforms ---- */

struct FN(wino_wargs) {
	real *U, *dw;
	const real *w, *Mw;
	int64_t no, ni; /* pairs p = o*ni + i */
	int flip;
};

/* U[xi*np + p] = (G g G^T)[xi], pairs p in vectors [begin, end): g is
 * w[o][i] (flip 0: o = co, i = ci) or w[i][o] turned by 180 degrees
 * (flip 1: o = ci, i = co, the dx kernel). */
static void FN(wino_u_task)(void *arg, int64_t begin, int64_t end, int chunk)
{
	const struct FN(wino_wargs) *a = arg;
	int64_t np = a->no * a->ni;
	for (int64_t q = begin; q < end; q++) {
		int64_t p0 = q * VL, nl = np - p0 < VL ? np - p0 : VL;
		real tmp[9][VL];
		VEC g[3][3], t[6][3], in[3], o[6];
		memset(tmp, 0, sizeof tmp);
		for (int64_t l = 0; l < nl; l++) {
			int64_t p = p0 + l, po = p / a->ni, pi = p % a->ni;
			const real *src = a->flip ? a->w + (pi * a->no + po) * 9
						  : a->w + p * 9;
			for (int k = 0; k < 9; k++)
				tmp[k][l] = src[a->flip ? 8 - k : k];
		}
		for (int r = 0; r < 3; r++)
			for (int c = 0; c < 3; c++)
				g[r][c] = FN(vload)(tmp[r * 3 + c]);
		for (int c = 0; c < 3; c++) {
			for (int r = 0; r < 3; r++)
				in[r] = g[r][c];
			FN(wino_g)(o, in);
			for (int k = 0; k < 6; k++)
				t[k][c] = o[k];
		}
		for (int k = 0; k < 6; k++) {
			FN(wino_g)(o, t[k]);
			for (int l = 0; l < 6; l++) {
				real *dst = a->U + (k * 6 + l) * np + p0;
				if (nl == VL)
					FN(vstore)(dst, o[l]);
				else
					FN(vstore_head)(dst, o[l], nl);
			}
		}
	}
}

/* dw[p] += G^T Mw[.][p] G (add) or dw[p] = ..., pairs p in vectors
 * [q0, q1) of np. */
static void FN(wino_dw_back)(real *dw, const real *Mw, int64_t np, int64_t q0,
			     int64_t q1, int add)
{
	for (int64_t q = q0; q < q1; q++) {
		int64_t p0 = q * VL, nl = np - p0 < VL ? np - p0 : VL;
		real tmp[9][VL];
		VEC t[3][6], col[6], o[3];
		for (int l = 0; l < 6; l++) {
			for (int k = 0; k < 6; k++)
				col[k] = FN(vload)(Mw + (k * 6 + l) * np + p0);
			FN(wino_gt)(o, col);
			for (int r = 0; r < 3; r++)
				t[r][l] = o[r];
		}
		for (int r = 0; r < 3; r++) {
			FN(wino_gt)(o, t[r]);
			for (int c = 0; c < 3; c++)
				FN(vstore)(tmp[r * 3 + c], o[c]);
		}
		for (int64_t l = 0; l < nl; l++)
			for (int k = 0; k < 9; k++) {
				real *d = dw + (p0 + l) * 9 + k;
				*d = add ? *d + tmp[k][l] : tmp[k][l];
			}
	}
}

static void FN(wino_dw_task)(void *arg, int64_t begin, int64_t end, int chunk)
{
	const struct FN(wino_wargs) *a = arg;
	FN(wino_dw_back)(a->dw, a->Mw, a->no * a->ni, begin, end, 1);
}

/* ---- the forward-like pass: out from in through U ---- */

struct FN(wino_args) {
	real *out;       /* (N, cout, oh, ow) */
	const real *in;  /* (N, cin, h, w) */
	const real *U;   /* (36, cout, cin) */
	const real *b;   /* (cout) or NULL */
	const struct wino *s;
	real *region;    /* thread regions of `thread` elements */
	int64_t thread;
	/* dw: inputs, the output, the slots' partial sums (slots 1..) */
	const real *x, *dy;
	real *dw, *part;
	/* dw by rounds: the round's transforms, tile rows, Mw's beta */
	real *V, *E, *Mw;
	int64_t gr0, gr1, phase;
	real beta;
};

/* Blocks [begin, end): transforms, 36 GEMMs, outputs. */
static void FN(wino_conv_task)(void *arg, int64_t begin, int64_t end,
			       int chunk)
{
	const struct FN(wino_args) *a = arg;
	const struct wino *s = a->s;
	int64_t ldt = s->ldt, rows = s->n * s->th;
	int64_t hw = s->h * s->w, ohw = s->oh * s->ow;
	real *V = a->region + chunk * a->thread;
	real *M = V + NXI * s->vs;
	real *P = M + NXI * s->ms;

	for (int64_t bk = begin; bk < end; bk++) {
		int64_t gr0 = bk * s->rb;
		int64_t gr1 = gr0 + s->rb < rows ? gr0 + s->rb : rows;
		int64_t T = (gr1 - gr0) * s->tw, nvec = (T + VL - 1) / VL;
		/* the block's tile rows gr, nt at a time within a sample */
		for (int64_t c = 0; c < s->cin; c++)
			for (int64_t gr = gr0, nt; gr < gr1; gr += nt) {
				int64_t n = gr / s->th, ti = gr % s->th;
				const real *in = a->in + (n * s->cin + c) * hw;
				nt = s->th - ti < gr1 - gr ? s->th - ti
							    : gr1 - gr;
				if (c + 1 < s->cin)
					FN(wino_prefetch)(in + hw, s->h, s->w,
							  4 * ti - s->pt,
							  4 * nt + 2, 0);
				FN(wino_phase)(P, in, s->h, s->w, s->pl, s->jw,
					       4 * ti - s->pt, 4 * nt + 2);
				FN(wino_tx)(V + c * ldt + (gr - gr0) * s->tw,
					    s->vs, P, s, nt);
			}
		/* the GEMM runs over whole vectors: zeros after the tiles */
		for (int xi = 0; xi < NXI; xi++)
			for (int64_t c = 0; c < s->cin; c++)
				FN(zero_run)(V + xi * s->vs + c * ldt + T,
					     nvec * VL - T);
		for (int xi = 0; xi < NXI; xi++)
			FN(wino_mm)(M + xi * s->ms,
				    a->U + xi * s->cout * s->cin,
				    V + xi * s->vs, ldt, s->cout, s->cin,
				    nvec);
		for (int64_t co = 0; co < s->cout; co++)
			for (int64_t gr = gr0, nt; gr < gr1; gr += nt) {
				int64_t n = gr / s->th, ti = gr % s->th;
				real *out = a->out + (n * s->cout + co) * ohw;
				nt = s->th - ti < gr1 - gr ? s->th - ti
							    : gr1 - gr;
				if (co + 1 < s->cout)
					FN(wino_prefetch)(out + ohw, s->oh,
							  s->ow, 4 * ti,
							  4 * nt, 1);
				FN(wino_ty)(out, M + co * ldt +
						 (gr - gr0) * s->tw,
					    s->ms, a->b ? a->b[co] : 0, s, ti,
					    nt);
			}
	}
}

/* U (36, no, ni) from w, shared out over vectors of pairs. */
static void FN(wino_filters)(real *U, const real *w, int64_t no, int64_t ni,
			     int flip, struct qt_pool *pool)
{
	struct FN(wino_wargs) a = {.U = U, .w = w, .no = no, .ni = ni,
				   .flip = flip};
	qt_pool_for(pool, (no * ni + VL - 1) / VL, FN(wino_u_task), &a);
}

void FN(qt_wino_forward)(real *y, const real *x, const real *w,
			 const real *b, const qt_conv2d_geom *g, void *work,
			 struct qt_pool *pool)
{
	struct wino s;
	real *U = work;
	wino_fwd_geom(&s, g, VL, sizeof(real));
	if (s.nblocks == 0)
		return;
	FN(wino_filters)(U, w, g->cout, g->cin, 0, pool);
	struct FN(wino_args) a = {.out = y, .in = x, .U = U, .b = b, .s = &s,
				  .thread = wino_thread(&s, VL)};
	a.region = U + wino_shared(g, VL, sizeof(real));
	qt_pool_for(pool, s.nblocks, FN(wino_conv_task), &a);
}

/* ---- dw: rounds of tile rows ---- */

/* Channel c of tile rows [gr0, gr1): x's transforms into V, dy's into
 * E (if c < Cin, Cout), with the phase buffer P. */
static void FN(wino_dw_channel)(const struct FN(wino_args) *a, int64_t c,
				int64_t gr0, int64_t gr1, real *V, real *E,
				real *P)
{
	const struct wino *s = a->s;
	int64_t ldt = s->ldt, hw = s->h * s->w, ohw = s->oh * s->ow;
	for (int64_t gr = gr0; gr < gr1;) {
		int64_t n = gr / s->th, ti = gr % s->th;
		int64_t nt = s->th - ti < gr1 - gr ? s->th - ti : gr1 - gr;
		int64_t off = (gr - gr0) * s->tw;
		if (c + 1 < s->cin)
			FN(wino_prefetch)(a->x + (n * s->cin + c + 1) * hw,
					  s->h, s->w, 4 * ti - s->pt,
					  4 * nt + 2, 0);
		if (c + 1 < s->cout)
			FN(wino_prefetch)(a->dy + (n * s->cout + c + 1) * ohw,
					  s->oh, s->ow, 4 * ti, 4 * nt, 0);
		if (c < s->cin) {
			FN(wino_phase)(P, a->x + (n * s->cin + c) * hw, s->h,
				       s->w, s->pl, s->jw, 4 * ti - s->pt,
				       4 * nt + 2);
			FN(wino_tx)(V + c * ldt + off, s->vs, P, s, nt);
		}
		if (c < s->cout) {
			FN(wino_phase)(P, a->dy + (n * s->cout + c) * ohw,
				       s->oh, s->ow, 0, s->jw, 4 * ti, 4 * nt);
			FN(wino_te)(E + c * ldt + off, s->ms, P, s, nt);
		}
		gr += nt;
	}
}

/* Channels [begin, end) of the round. */
static void FN(wino_round_task)(void *arg, int64_t begin, int64_t end,
				int chunk)
{
	const struct FN(wino_args) *a = arg;
	real *P = a->region + chunk * a->phase;
	for (int64_t c = begin; c < end; c++)
		FN(wino_dw_channel)(a, c, a->gr0, a->gr1, a->V, a->E, P);
}

/* Mw[xi] = E[xi] V[xi]^T (+ Mw[xi] with beta 1), xi in [x0, x1), over
 * the T tiles of a round or block. */
static void FN(wino_dw_gemm)(real *Mw, const real *E, const real *V,
			     const struct wino *s, int64_t T, real beta,
			     int64_t x0, int64_t x1)
{
	for (int64_t xi = x0; xi < x1; xi++)
		GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->cout,
		     (int)s->cin, (int)T, 1, E + xi * s->ms, (int)s->ldt,
		     V + xi * s->vs, (int)s->ldt, beta,
		     Mw + xi * s->cout * s->cin, (int)s->cin);
}

/* Slots [begin, end): the slot's samples block by block into this
 * thread's Mw, then G^T Mw G into dw (slot 0, added) or the slot's
 * partial sum. */
static void FN(wino_slot_task)(void *arg, int64_t begin, int64_t end,
			       int chunk)
{
	const struct FN(wino_args) *a = arg;
	const struct wino *s = a->s;
	int64_t np = s->cin * s->cout, ns = wino_slots(s->n);
	int64_t nc = s->cin > s->cout ? s->cin : s->cout;
	real *Mw = a->region + chunk * a->thread;
	real *V = Mw + round_up(NXI * np, VL), *E = V + NXI * s->vs;
	real *P = E + NXI * s->ms;

	for (int64_t sl = begin; sl < end; sl++) {
		int64_t r0 = slot_begin(s->n, ns, sl) * s->th;
		int64_t r1 = slot_begin(s->n, ns, sl + 1) * s->th;
		for (int64_t gr0 = r0; gr0 < r1; gr0 += s->rb) {
			int64_t gr1 = gr0 + s->rb < r1 ? gr0 + s->rb : r1;
			for (int64_t c = 0; c < nc; c++)
				FN(wino_dw_channel)(a, c, gr0, gr1, V, E, P);
			FN(wino_dw_gemm)(Mw, E, V, s, (gr1 - gr0) * s->tw,
					 gr0 > r0, 0, NXI);
		}
		FN(wino_dw_back)(sl ? a->part + (sl - 1) * 9 * np : a->dw, Mw,
				 np, 0, (np + VL - 1) / VL, sl == 0);
	}
}

/* dw += the slots' partial sums, in slot order, elements [begin, end). */
static void FN(wino_reduce_task)(void *arg, int64_t begin, int64_t end,
				 int chunk)
{
	const struct FN(wino_args) *a = arg;
	const struct wino *s = a->s;
	int64_t nw = 9 * s->cin * s->cout, ns = wino_slots(s->n);
	for (int64_t e = begin; e < end; e++) {
		real sum = a->dw[e];
		for (int64_t sl = 1; sl < ns; sl++)
			sum += a->part[(sl - 1) * nw + e];
		a->dw[e] = sum;
	}
}

/* Positions [begin, end) of the round's GEMMs. */
static void FN(wino_round_gemm)(void *arg, int64_t begin, int64_t end,
				int chunk)
{
	const struct FN(wino_args) *a = arg;
	FN(wino_dw_gemm)(a->Mw, a->E, a->V, a->s, (a->gr1 - a->gr0) * a->s->tw,
			 a->beta, begin, end);
}

struct FN(wino_db_args) {
	real *db;
	const real *dy;
	const qt_conv2d_geom *g;
};

/* db[co] += the sum of dy over samples and pixels, channels [begin, end). */
static void FN(wino_db_task)(void *arg, int64_t begin, int64_t end, int chunk)
{
	const struct FN(wino_db_args) *a = arg;
	const qt_conv2d_geom *g = a->g;
	int64_t p = g->oh * g->ow;
	for (int64_t co = begin; co < end; co++) {
		double sum = 0;
		for (int64_t n = 0; n < g->n; n++) {
			const real *d = a->dy + (n * g->cout + co) * p;
			for (int64_t j = 0; j < p; j++)
				sum += d[j];
		}
		a->db[co] += (real)sum;
	}
}

/* dw by slots of samples (wino_slot_task), then the partial sums. */
static void FN(wino_dw_slots)(real *dw, const real *dy, const real *x,
			      const qt_conv2d_geom *g, real *shared,
			      real *region, struct qt_pool *pool)
{
	struct wino s;
	wino_dw_geom(&s, g, VL, sizeof(real));
	struct FN(wino_args) a = {.s = &s, .x = x, .dy = dy, .dw = dw,
				  .part = shared, .region = region};
	int64_t nw = 9 * g->cin * g->cout, ns = wino_slots(g->n);
	a.thread = wino_slot_thread(g, &s, VL);
	qt_pool_for(pool, ns, FN(wino_slot_task), &a);
	/* a small reduction is cheaper on the caller than waking the pool;
	 * the sums are the same either way */
	if (ns > 1)
		qt_pool_for(nw * (ns - 1) < INLINE_WORK ? NULL : pool, nw,
			    FN(wino_reduce_task), &a);
}

/* dw by rounds of tile rows into one Mw (shared), then G^T Mw G. */
static void FN(wino_dw_rounds)(real *dw, const real *dy, const real *x,
			       const qt_conv2d_geom *g, real *shared,
			       real *region, struct qt_pool *pool)
{
	struct wino s;
	wino_dw_geom(&s, g, VL, sizeof(real));
	struct FN(wino_args) a = {.s = &s, .x = x, .dy = dy, .V = region,
				  .E = region + NXI * s.vs, .Mw = shared,
				  .region = region + wino_round(&s, VL),
				  .phase = round_up(s.phase, VL)};
	int64_t rows = g->n * s.th, np = g->cin * g->cout;
	for (int64_t bk = 0; bk < s.nblocks; bk++) {
		a.gr0 = bk * s.rb;
		a.gr1 = a.gr0 + s.rb < rows ? a.gr0 + s.rb : rows;
		a.beta = bk > 0;
		qt_pool_for(pool, g->cin > g->cout ? g->cin : g->cout,
			    FN(wino_round_task), &a);
		qt_pool_for(pool, NXI, FN(wino_round_gemm), &a);
	}
	struct FN(wino_wargs) wa = {.dw = dw, .Mw = shared, .no = g->cout,
				    .ni = g->cin};
	qt_pool_for(pool, (np + VL - 1) / VL, FN(wino_dw_task), &wa);
}

void FN(qt_wino_backward)(real *dx, real *dw, real *db, const real *dy,
			  const real *x, const real *w,
			  const qt_conv2d_geom *g, void *work,
			  struct qt_pool *pool)
{
	real *shared = work;
	real *region = shared + wino_shared(g, VL, sizeof(real));
	if (g->n == 0)
		return;
	if (db) {
		struct FN(wino_db_args) a = {.db = db, .dy = dy, .g = g};
		qt_pool_for(pool, g->cout, FN(wino_db_task), &a);
	}
	if (dw && wino_by_slots(g, sizeof(real)))
		FN(wino_dw_slots)(dw, dy, x, g, shared, region, pool);
	else if (dw)
		FN(wino_dw_rounds)(dw, dy, x, g, shared, region, pool);
	if (dx) {
		struct wino s;
		wino_dx_geom(&s, g, VL, sizeof(real));
		FN(wino_filters)(shared, w, g->cin, g->cout, 1, pool);
		struct FN(wino_args) a = {.out = dx, .in = dy, .U = shared,
					  .s = &s, .region = region,
					  .thread = wino_thread(&s, VL)};
		qt_pool_for(pool, s.nblocks, FN(wino_conv_task), &a);
	}
}

#endif
