// The shapes the API answers with, from the services' OpenAPI schemas (npm run api-types).
import type { components as Gateway } from './generated/gateway'
import type { components as JobsApi } from './generated/jobs'

export type User = Gateway['schemas']['UserPublic']
export type Tier = User['tier']
export type WebConfig = Gateway['schemas']['WebConfig']
export type ApiToken = Gateway['schemas']['TokenPublic']
export type ApiTokens = Gateway['schemas']['TokensPublic']
export type ApiTokenCreated = Gateway['schemas']['TokenCreated']
export type UpgradeRequest = Gateway['schemas']['UpgradeRequest']
export type TokenCreate = Gateway['schemas']['TokenCreate']

export type Job = JobsApi['schemas']['JobPublic']
export type JobStatus = JobsApi['schemas']['JobStatus']
export type StorageState = JobsApi['schemas']['StorageState']
export type JobsPage = JobsApi['schemas']['JobsPublic']
export type JobCreate = JobsApi['schemas']['JobCreate']
export type JobCreated = JobsApi['schemas']['JobCreated']
export type UploadForm = JobsApi['schemas']['UploadForm']
export type ResultLink = JobsApi['schemas']['ResultLink']
export type Build = NonNullable<JobCreate['build']>
export type Variant = JobsApi['schemas']['VariantPublic']
export type VariantsPage = JobsApi['schemas']['VariantsPublic']
