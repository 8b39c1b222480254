Feature: Exchange Online privileged access stays gated
  In order to keep administrators from running sensitive tasks unreviewed
  As a security team
  We require PAM on, with a default approver group, and every access policy approved by a person

  Scenario: Privileged access management stays enabled
    Given I have privileged_access defined
    Then it must contain enabled
    And its value must be true

  Scenario: Privileged access management names a default approver group
    Given I have privileged_access defined
    Then it must contain default_approver_group
    And its value must not be null

  Scenario: Access policies need manual approval
    Given I have access_policy defined
    Then it must contain approval
    And its value must be manual
