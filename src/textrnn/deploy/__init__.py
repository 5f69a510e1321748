"""Using a trained model elsewhere: ONNX export, the torch-free runtime, batch prediction of files, the HTTP server."""
