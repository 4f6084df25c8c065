"""The shared update queue of several replicas (queue.type: sqs): an SQS FIFO queue."""
