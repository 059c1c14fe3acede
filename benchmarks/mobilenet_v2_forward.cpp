// MobileNetV2 (torchvision's mobilenet_v2, 1000 classes) forward throughput on the CPU; see
// forward_benchmark.hpp for the options and the output line.

#include <ctnn/models/mobilenet_v2.hpp>   // ctnn::MobileNetV2

#include "forward_benchmark.hpp"   // benchmark::forward_throughput

int main(int argc, char** argv) { return benchmark::forward_throughput<ctnn::MobileNetV2<1000>>(argc, argv); }
