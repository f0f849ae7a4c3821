#!/bin/sh
# Install the Debian packages quanta builds, tests and benchmarks with.
# Run as root on Debian 12 (bookworm) or newer.
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential pkg-config clang libclang-rt-14-dev \
	libzmq3-dev libmsgpack-dev libhdf5-dev libopenblas-dev libzip-dev \
	libchealpix-dev libplplot-dev plplot-driver-cairo fonts-dejavu-core \
	libjansson-dev libfftw3-dev nettle-dev \
	bats time ghostscript \
	python3 python3-numpy python3-torch python3-h5py python3-msgpack \
	python3-msgpack-numpy
