"""Produces idledger events to a Kafka topic over TLS with kafka-python, a client that shares no
code with librdkafka: for each codec named, COUNT events in batches compressed with it.

usage: produce.py BOOTSTRAP CAFILE TOPIC COUNT CODEC...
Prints one line per codec: "sent CODEC N".
"""
import json
import sys

from kafka import KafkaProducer


def event(codec, i):
    return {
        "id": f"{codec}-{i}",
        "source": "tls-test",
        "type": "identity.updated",
        "time": "2026-01-01T00:00:00Z",
        "actor": {"id": "hr-sync", "kind": "service"},
        "subject": {"id": f"user{i % 17}@example.com", "kind": "human"},
        "reason": f"batch compressed with {codec}",
    }


def main():
    bootstrap, cafile, topic, count = sys.argv[1:5]
    for codec in sys.argv[5:]:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            security_protocol="SSL",
            ssl_cafile=cafile,
            ssl_check_hostname=True,
            compression_type=codec,
            linger_ms=20,
            batch_size=64 * 1024,
            acks="all",
        )
        for i in range(int(count)):
            producer.send(
                topic,
                key=f"user{i % 17}".encode(),
                value=json.dumps(event(codec, i)).encode(),
            )
        producer.flush()
        producer.close()
        print(f"sent {codec} {count}", flush=True)


if __name__ == "__main__":
    main()
