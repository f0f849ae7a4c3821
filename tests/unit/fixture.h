/* fixture.h: read PyTorch reference tensors written by
 * the scripts in tests/reference/ (HDF5 files, one dataset per tensor) in unit tests.
 *
 *   qt_tensor *x = fixture_load("tests/reference/dense.h5", "f64/x", QT_F64);
 *
 * The dataset is converted to the requested dtype by HDF5.  Returns NULL
 * (and prints a TAP diagnostic) when the file or dataset is missing. */
#ifndef QT_FIXTURE_H
#define QT_FIXTURE_H

#include "common/tensor.h"
#include <hdf5.h>
#include <stdio.h>

static inline qt_tensor *fixture_load(const char *file, const char *name,
				      qt_dtype dt)
{
	hid_t f, d, s, mt;
	hsize_t dims[QT_MAX_DIMS];
	int64_t shape[QT_MAX_DIMS];
	int nd;
	qt_tensor *t = NULL;

	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0) {
		printf("# fixture: cannot open %s\n", file);
		return NULL;
	}
	d = H5Dopen2(f, name, H5P_DEFAULT);
	if (d < 0) {
		printf("# fixture: %s has no dataset %s\n", file, name);
		H5Fclose(f);
		return NULL;
	}
	s = H5Dget_space(d);
	nd = H5Sget_simple_extent_ndims(s);
	if (nd >= 0 && nd <= QT_MAX_DIMS) {
		H5Sget_simple_extent_dims(s, dims, NULL);
		for (int i = 0; i < nd; i++)
			shape[i] = (int64_t)dims[i];
		t = qt_tensor_new(dt, nd, shape);
	}
	mt = dt == QT_F32 ? H5T_NATIVE_FLOAT : dt == QT_F64 ? H5T_NATIVE_DOUBLE
	   : dt == QT_I64 ? H5T_NATIVE_INT64 : dt == QT_I32 ? H5T_NATIVE_INT32
	   : H5T_NATIVE_UINT8;
	if (t && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
		printf("# fixture: cannot read %s:%s\n", file, name);
		qt_tensor_free(t);
		t = NULL;
	}
	H5Sclose(s);
	H5Dclose(d);
	H5Fclose(f);
	return t;
}

#endif
