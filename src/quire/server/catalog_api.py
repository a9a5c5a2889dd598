"""catalog_api"""

from fastapi import APIRouter

router = APIRouter()
