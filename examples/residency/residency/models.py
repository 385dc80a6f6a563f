"""SQLAlchemy models of the residency-scheduling example."""

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, MetaData, String, Text, func
from sqlalchemy.orm import declarative_base

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Person(Base):
    __tablename__ = "persons"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    email = Column(String(200), nullable=False, unique=True)
    role = Column(String(20), nullable=False)  # resident or faculty
    pgy_level = Column(Integer, nullable=True)


class Rotation(Base):
    __tablename__ = "rotations"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False, unique=True)
    max_hours_per_week = Column(Integer, nullable=False, server_default="80")


class Assignment(Base):
    __tablename__ = "assignments"
    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, index=True)
    rotation_id = Column(Integer, ForeignKey("rotations.id"), nullable=False, index=True)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date, nullable=False)
    on_call = Column(Boolean, nullable=False, server_default="0")


class AuditLog(Base):
    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    actor = Column(String(120), nullable=False)
    action = Column(String(60), nullable=False)
    detail = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False, server_default=func.now())


class AcgmeCompliance(Base):
    __tablename__ = "acgme_compliance"
    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, index=True)
    week_of = Column(Date, nullable=False)
    duty_hours = Column(Integer, nullable=False)
