"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from anntools.consequences import TERM_NAMES
from gas_core.auth import InternalIdentity, InvalidInternalToken, verify_internal_token
from gas_jobs.models import RegionClass
from gas_jobs.service import Jobs
from gas_jobs.variants import VariantFilter


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


internal_token = HTTPBearer(
    auto_error=False,
    scheme_name="Internal token",
    description="The short-lived JWT the gateway mints for the signed-in user it forwards for.",
)


def _current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(internal_token)],
) -> InternalIdentity:
    if bearer is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Missing internal token: call this API through the gateway.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verify_internal_token(bearer.credentials, _jobs(request).stack.internal_jwt_secret)
    except InvalidInternalToken as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Invalid or expired internal token.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from error


JobsDep = Annotated[Jobs, Depends(_jobs)]
CurrentUser = Annotated[InternalIdentity, Depends(_current_user)]


# VCF positions are 32-bit signed integers (VCF 4.3, section 1.6.2): no record lies beyond, and
# a larger number is refused here instead of failing the Parquet filter mid-stream.
MAX_POSITION = 2**31 - 1


def _variant_filter(
    chrom: Annotated[
        str | None,
        Query(max_length=64, description="chromosome, with or without 'chr' (e.g. 17, chrX)"),
    ] = None,
    start: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="first position (1-based)")
    ] = None,
    end: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="last position (inclusive)")
    ] = None,
    gene: Annotated[
        str | None, Query(max_length=100, description="a gene name (exact, any case)")
    ] = None,
    region: Annotated[
        list[RegionClass] | None,
        Query(description="region classes to keep; repeat for several (region=CDS&region=UTR5)"),
    ] = None,
    consequence: Annotated[
        list[str] | None,
        Query(
            description="most severe Sequence Ontology consequences to keep; repeat for several "
            "(consequence=frameshift_variant&consequence=start_lost)"
        ),
    ] = None,
    in_dbsnp: Annotated[
        bool | None, Query(description="true: only variants with an rsID; false: only without")
    ] = None,
    clinvar: Annotated[
        str | None,
        Query(max_length=100, description="ClinVar significance contains this (any case)"),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="the ID column contains this (any case)")
    ] = None,
) -> VariantFilter:
    if start is not None and end is not None and start > end:
        # Shaped like every other invalid parameter (the documented HTTPValidationError).
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "end"),
                    "msg": f"start ({start:,}) is after end ({end:,}); "
                    "give a range with start <= end.",
                    "input": end,
                }
            ]
        )
    unknown = sorted(set(consequence or ()) - set(TERM_NAMES))
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "consequence"),
                    "msg": f"unknown consequence {', '.join(unknown)}; use Sequence Ontology "
                    "terms such as " + ", ".join(TERM_NAMES[:4]) + ".",
                    "input": unknown,
                }
            ]
        )
    return VariantFilter(
        chrom=chrom or None,
        start=start,
        end=end,
        gene=gene or None,
        regions=tuple(r.value for r in region or ()),
        consequences=tuple(consequence or ()),
        in_dbsnp=in_dbsnp,
        clinvar=clinvar or None,
        text=q or None,
    )


VariantQuery = Annotated[VariantFilter, Depends(_variant_filter)]
