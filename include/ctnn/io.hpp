#pragma once
// ctnn::io (CMake target ctnn::io): weights files, PyTorch's interchange format. ctnn::ctnn plus
// nlohmann-json (the safetensors header is JSON).
//
//   #include <ctnn/ctnn.hpp>   // the network types and the model
//   #include <ctnn/io.hpp>     // this: ctnn::load_weights(model, "googlenet.safetensors")

#include <ctnn/io/file.hpp>          // ctnn::io::InputFile, read_regular_file, write_file_atomically
#include <ctnn/io/half.hpp>          // float16 and bfloat16 <-> float
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader, write, DType
#include <ctnn/io/weights.hpp>       // ctnn::load_weights, ctnn::save_weights
