#pragma once
// ctnn::data (CMake target ctnn::data): data sets and batching. ctnn::ctnn plus zlib (the IDX files
// of MNIST and Fashion-MNIST are often gzip-compressed).
//
//   #include <ctnn/data.hpp>
//   auto train = ctnn::data::load_fashion_mnist(directory, ctnn::data::Split::train);

#include <ctnn/data/batcher.hpp>               // ctnn::data::BatchLoader, Batch, Augmentation, Normalization
#include <ctnn/data/fashion_mnist.hpp>         // ctnn::data::Dataset, load_fashion_mnist, Split
#include <ctnn/data/fashion_mnist_labels.hpp>  // ctnn::data::fashion_mnist_labels
#include <ctnn/data/idx.hpp>                   // ctnn::data::read_idx_images, read_idx_labels
#include <ctnn/data/shuffle.hpp>               // ctnn::data::arrange_order
