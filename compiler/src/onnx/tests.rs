//! Unit tests of the ONNX front end on graphs built in memory.
