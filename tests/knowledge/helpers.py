from apps.knowledge import services
from apps.knowledge.models import IngestJob


def ingest(files: dict[str, bytes], *, product_line=None) -> IngestJob:
    """Run an ingest job inline (the same service the worker runs)."""
    uploads = [
        services.UploadedFile(name=name.rsplit("/", 1)[-1], data=data, external_id=name)
        for name, data in files.items()
    ]
    job = services.ingest_job_create(files=uploads, product_line=product_line, source="test")
    services.ingest_job_run(job_id=job.pk)
    return job


def statuses(job: IngestJob) -> dict[str, str]:
    return dict(job.items.values_list("name", "status"))
