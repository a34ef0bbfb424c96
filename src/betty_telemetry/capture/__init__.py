"""The write side: the TelemetryCapture facade, the pipeline, the decorator, the context
manager, spans and the background batching sink."""
