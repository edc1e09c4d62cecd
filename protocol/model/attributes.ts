/**
 * Notification attributes of Write-Attributes (LwM2M 1.1 §5.1.2): they steer when an
 * observation notifies. pmin/pmax are seconds; gt/lt/st are thresholds on numeric values.
 */
export interface NotificationAttributes {
  pmin?: number;
  pmax?: number;
  gt?: number;
  lt?: number;
  st?: number;
}

export const NOTIFICATION_ATTRIBUTE_NAMES = ['pmin', 'pmax', 'gt', 'lt', 'st'] as const;
