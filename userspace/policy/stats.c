// SPDX-License-Identifier: GPL-2.0-only
/*
 * Robust baselines of a population: the median and the MAD (median
 * absolute deviation) of log(1 + x), found by selection in linear time,
 * and the z-score of one value against them.
 */
#include <math.h>
#include <string.h>

#include "policy/detect_int.h"

static void swapd(double *a, double *b)
{
	double t = *a;

	*a = *b;
	*b = t;
}

/* The k-th smallest of v[0..n) (Hoare's selection; v is reordered). */
static double select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				swapd(&v[i], &v[j]);
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

static double median_of(double *v, size_t n)
{
	double a = select_kth(v, n, n / 2), b;
	size_t i;

	if (n % 2)
		return a;
	/* The largest of the lower half. */
	b = v[0];
	for (i = 1; i < n / 2; i++)
		if (v[i] > b)
			b = v[i];
	return (a + b) / 2;
}

void ps_median_mad(double *v, size_t n, double *median, double *mad)
{
	size_t i;
	double m = median_of(v, n);

	for (i = 0; i < n; i++)
		v[i] = fabs(v[i] - m);
	*median = m;
	*mad = median_of(v, n);
}

/*
 * The same selection over floats x whose values are log(1 + x) (m NULL),
 * or their distance from m, |log(1 + x) - m| (the MAD's): the same
 * comparisons as over the doubles they stand for, so the same element
 * chosen, and the same double returned, as ps_median_mad over the values.
 * Between the partitions of a big array the daemon may answer requests.
 */
static double key_f(float x, const double *m)
{
	return m ? fabs(log1p(x) - *m) : log1p(x);
}

static double select_kth_f(struct ps_detect *d, float *v, size_t n, size_t k, const double *m)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		float pivf = v[lo + (hi - lo) / 2];
		double pivot = key_f(pivf, m);
		size_t i = lo, j = hi;

		if (hi - lo >= PS_CTABLE_YIELD_EVERY)
			ps_dt_yield_now(d);	/* a reload: the run stops after this baseline */
		while (i <= j) {
			if (m) {
				while (key_f(v[i], m) < pivot)
					i++;
				while (key_f(v[j], m) > pivot)
					j--;
			} else {
				/*
				 * The median's: the floats compare as their
				 * logarithms do. Two floats 0 <= x < y are at
				 * least 2^-24 x apart, their log1p at least
				 * 2^-25 min(x, 1) relative apart: millions of
				 * a double's ulps, far beyond log1p's error.
				 */
				while (v[i] < pivf)
					i++;
				while (v[j] > pivf)
					j--;
			}
			if (i <= j) {
				float t = v[i];

				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return key_f(v[k], m);
}

static double median_of_f(struct ps_detect *d, float *v, size_t n, const double *m)
{
	double a = select_kth_f(d, v, n, n / 2, m), b, x;
	size_t i;

	if (n % 2)
		return a;
	/* The largest of the lower half (the median's: of the floats). */
	if (!m) {
		float bf = v[0];

		for (i = 1; i < n / 2; i++)
			if (v[i] > bf)
				bf = v[i];
		return (a + key_f(bf, m)) / 2;
	}
	b = key_f(v[0], m);
	for (i = 1; i < n / 2; i++)
		if ((x = key_f(v[i], m)) > b)
			b = x;
	return (a + b) / 2;
}

void ps_median_mad_f(struct ps_detect *d, float *x, size_t n, double *median, double *mad)
{
	double m = median_of_f(d, x, n, NULL);

	*median = m;
	*mad = median_of_f(d, x, n, &m);
}

void ps_dt_baseline_f(struct ps_detect *d, float *x, size_t n, double def_median,
		      struct baseline *b)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	if (n >= d->cfg->detection.min_population && n > 0) {
		ps_median_mad_f(d, x, n, &b->median, &b->mad);
		b->population = true;
		b->from = BL_POPULATION;
	} else {
		/* Too few clients to compare with: a quiet population. */
		b->median = log1p(def_median);
		b->mad = 0;
	}
	b->scale = MAD_SIGMA * b->mad > Z_SCALE_FLOOR ? MAD_SIGMA * b->mad : Z_SCALE_FLOOR;
}

void ps_dt_baseline_of(struct ps_detect *d, double *v, size_t n, double def_median,
		       struct baseline *b)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	if (n >= d->cfg->detection.min_population && n > 0) {
		ps_median_mad(v, n, &b->median, &b->mad);
		b->population = true;
		b->from = BL_POPULATION;
	} else {
		/* Too few clients to compare with: a quiet population. */
		b->median = log1p(def_median);
		b->mad = 0;
	}
	b->scale = MAD_SIGMA * b->mad > Z_SCALE_FLOOR ? MAD_SIGMA * b->mad : Z_SCALE_FLOOR;
}

double ps_dt_zscore(const struct baseline *b, double x)
{
	return (log1p(x) - b->median) / b->scale;
}

json_t *ps_dt_baseline_json(const struct baseline *b, const char *feature, const char *window)
{
	static const char *const from[] = { "defaults", "population", "population, earlier",
					    "small population" };
	json_t *j = json_pack("{s:s,s:s,s:f,s:f,s:I,s:s}", "feature", feature, "window", window,
			      "median", expm1(b->median), "mad_log", b->mad, "clients",
			      (json_int_t)b->n, "from", from[b->from <= BL_SMALL ? b->from : 0]);

	if (j && b->from == BL_EARLIER)
		json_object_set_new(j, "made_at", json_integer(b->at));
	return j;
}
