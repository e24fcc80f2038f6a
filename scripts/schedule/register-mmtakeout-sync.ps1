# Windows Task Scheduler: run `mmtakeout sync` every hour while you are logged on.
# Run this script once in PowerShell as yourself (not as administrator):
#     powershell -ExecutionPolicy Bypass -File .\register-mmtakeout-sync.ps1
# The task runs only while you are logged on: Windows Credential Manager, where `mmtakeout login`
# keeps the token, is unlocked by your logon. Check it with `Get-ScheduledTask -TaskName 'mmtakeout sync'`,
# run it now with `Start-ScheduledTask -TaskName 'mmtakeout sync'`, remove it with
# `Unregister-ScheduledTask -TaskName 'mmtakeout sync'`. The log is %LOCALAPPDATA%\mmtakeout\sync.log.
param(
    [string]$Mmtakeout = (Get-Command mmtakeout -ErrorAction Stop).Source,
    [int]$EveryMinutes = 60
)
$ErrorActionPreference = 'Stop'

$action = New-ScheduledTaskAction -Execute $Mmtakeout -Argument 'sync --quiet'
$trigger = New-ScheduledTaskTrigger -Once -At (Get-Date).AddMinutes(5) `
    -RepetitionInterval (New-TimeSpan -Minutes $EveryMinutes)
$principal = New-ScheduledTaskPrincipal -UserId "$env:USERDOMAIN\$env:USERNAME" -LogonType Interactive -RunLevel Limited
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -DontStopIfGoingOnBatteries -AllowStartIfOnBatteries `
    -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Hours 6)

Register-ScheduledTask -TaskName 'mmtakeout sync' -Description 'Update Mattermost Takeout archives' `
    -Action $action -Trigger $trigger -Principal $principal -Settings $settings -Force | Out-Null
Write-Output "Registered the task 'mmtakeout sync': it runs '$Mmtakeout sync --quiet' every $EveryMinutes minutes."
