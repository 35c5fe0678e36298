import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../common/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe } from '../common/id-params.js';
import { RECOVERY_ERRORS } from './delivery-recovery.errors.js';
import { DeliveryRecoveryService } from './delivery-recovery.service.js';
import { RecoveryDetailDto, RecoveryDto, StartRecoveryDto } from './dto/recovery.dto.js';

@ApiTags('deliveries')
@ApiBearerAuth()
@Access('admin', 'client')
@Controller('client/:client_id/delivery/recover')
export class DeliveryRecoveryController {
  constructor(private readonly recovery: DeliveryRecoveryService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send dead deliveries again after an outage: the newest of each agent to each URL, in order, at a fair share',
  })
  @ApiAcceptedResponse({ type: RecoveryDto })
  @ApiErrors(...RECOVERY_ERRORS.start)
  start(@Param('client_id', ClientIdPipe) clientId: string, @Body() body: StartRecoveryDto): Promise<RecoveryDto> {
    return this.recovery.start(clientId, body);
  }

  @Get(':recovery_id')
  @ApiOperation({ summary: 'A recovery and where the deliveries it sent again stand' })
  @ApiOkResponse({ type: RecoveryDetailDto })
  @ApiErrors(...RECOVERY_ERRORS.get)
  get(@Param('client_id', ClientIdPipe) clientId: string, @Param('recovery_id') recoveryId: string): Promise<RecoveryDetailDto> {
    return this.recovery.get(clientId, recoveryId);
  }
}
