#pragma once
// ctnn::image (CMake target ctnn::image): JPEG and PNG files decoded and preprocessed as PIL and
// torchvision do. ctnn::ctnn plus libpng and libjpeg(-turbo).
//
//   #include <ctnn/image.hpp>
//   auto pixels = ctnn::image::imagenet_preprocess(ctnn::image::load("cat.jpg"));

#include <ctnn/io/image.hpp>   // ctnn::image::load, decode, imagenet_preprocess, grayscale_preprocess
