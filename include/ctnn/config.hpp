#pragma once
// Library-wide configuration: version and the host/device function qualifier.

#define CTNN_VERSION_MAJOR 0
#define CTNN_VERSION_MINOR 1
#define CTNN_VERSION_PATCH 0

// Expands to __host__ __device__ only when compiled by nvcc, so every header builds with g++.
#if defined(__CUDACC__)
#define CTNN_HOST_DEVICE __host__ __device__
#else
#define CTNN_HOST_DEVICE
#endif

#if defined(_OPENMP)
#define CTNN_HAS_OPENMP 1
#else
#define CTNN_HAS_OPENMP 0
#endif
