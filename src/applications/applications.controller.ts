import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../common/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe } from '../common/id-params.js';
import { APPLICATION_ERRORS } from './applications.errors.js';
import { ApplicationsService } from './applications.service.js';
import { ApplicationResponseDto, CreateApplicationDto, CreatedApplicationDto } from './dto/application.dto.js';

@ApiTags('applications')
@ApiBearerAuth()
@Access('admin')
@Controller('client/:client_id/app')
export class ApplicationsController {
  constructor(private readonly applications: ApplicationsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an application: OAuth2 client credentials for POST /oauth/token (admin; the secret is shown once)' })
  @ApiCreatedResponse({ type: CreatedApplicationDto })
  @ApiErrors(...APPLICATION_ERRORS.create)
  create(@Param('client_id', ClientIdPipe) clientId: string, @Body() dto: CreateApplicationDto): Promise<CreatedApplicationDto> {
    return this.applications.create(clientId, dto.name);
  }

  @Get()
  @ApiOperation({ summary: "List the client's applications, without their secrets (admin)" })
  @ApiOkResponse({ type: ApplicationResponseDto, isArray: true })
  @ApiErrors(...APPLICATION_ERRORS.list)
  list(@Param('client_id', ClientIdPipe) clientId: string): Promise<ApplicationResponseDto[]> {
    return this.applications.list(clientId);
  }

  @Delete(':app_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an application: its tokens stop working within 5 seconds (admin)' })
  @ApiNoContentResponse()
  @ApiErrors(...APPLICATION_ERRORS.remove)
  remove(@Param('client_id', ClientIdPipe) clientId: string, @Param('app_id') applicationId: string): Promise<void> {
    return this.applications.remove(clientId, applicationId);
  }
}
