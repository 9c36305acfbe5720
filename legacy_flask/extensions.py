"""Flask extensions, created unbound and attached by the factory."""

from flask_sqlalchemy import SQLAlchemy

from shared_models import Base

db = SQLAlchemy(model_class=Base)
