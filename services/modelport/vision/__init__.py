"""The vision service: image classification and object detection over gRPC."""
